"""One case of the privacy corpus."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    id: str
    turns: tuple[str, ...]  # the person's messages, in order (the hub answers each in between)
    secrets: tuple[str, ...] = ()  # exact strings that must never reach the endpoint
    kind: str = ""  # personal: what a reason should name (a PersonalData name); ordinary: ""
    redactable: bool = True  # a placeholder can stand for it (topics cannot)
    tags: tuple[str, ...] = field(default=())

    @property
    def personal(self) -> bool:
        return bool(self.secrets)
