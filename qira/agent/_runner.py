"""Running one skill step in isolation: a timeout, every error captured and turned into
a clear message, the permissions it used recorded in the audit log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..devices import DeviceInfo
from ..errors import PermissionDenied, QiraError
from ..sdk import InvalidArguments, Permission, SkillContext
from ..sdk._invoke import Chunk, invoke
from ._audit import AuditEntry, AuditLog, Outcome
from ._host import HostServices, HubSkillHost
from ._registry import SkillRegistry

__all__ = ["SkillRunner", "StepResult"]

log = logging.getLogger("qira.agent.runner")


@dataclass(frozen=True, kw_only=True)
class StepResult:
    call_id: str
    skill: str
    outcome: Outcome
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)
    streamed: bool = False  # the text already went to the device chunk by chunk

    def as_state(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "skill": self.skill,
            "outcome": self.outcome.value,
            "text": self.text,
            "data": dict(self.data),
            "streamed": self.streamed,
        }


class SkillRunner:
    def __init__(
        self, registry: SkillRegistry, services: HostServices, audit: AuditLog, *, default_timeout_s: float
    ) -> None:
        self.registry = registry
        self.services = services
        self.audit = audit
        self.default_timeout_s = default_timeout_s

    async def run(
        self,
        call: Mapping[str, Any],
        *,
        device: DeviceInfo,
        thread: str,
        turn: str,
        text: str,
        approval: str = "not needed",
        on_chunk: Chunk | None = None,
        history: tuple[Mapping[str, str], ...] = (),
    ) -> StepResult:
        name = call["skill"]
        skill = self.registry.get(name)
        started = time.perf_counter()
        if skill is None:
            return await self._finish(
                call,
                device,
                thread,
                turn,
                Outcome.ERROR,
                f"There is no skill named {name!r}.",
                detail="unknown skill",
                approval=approval,
                started=started,
            )
        granted = self.registry.granted(skill, device)
        ctx = SkillContext(
            skill=name,
            device=device,
            thread=thread,
            turn=turn,
            text=text,
            granted=granted,
            history=history,
            host=HubSkillHost(
                self.services,
                skill=name,
                device=device,
                network=Permission.NETWORK in granted,
                namespace=getattr(skill.handler, "__module__", None),
            ),
        )
        timeout = skill.timeout_s or self.default_timeout_s
        streamed = False

        async def chunk(piece: str) -> None:
            nonlocal streamed
            streamed = True
            if on_chunk is not None:
                await on_chunk(piece)

        try:
            arguments = skill.coerce(call.get("arguments") or {})
            reply = await asyncio.wait_for(invoke(skill, ctx, arguments, chunk), timeout)
        except InvalidArguments as exc:
            outcome, message = Outcome.INVALID, f"I could not use {name}: {exc}"
        except PermissionDenied as exc:
            outcome, message = Outcome.PERMISSION_DENIED, f"The {name} skill was stopped: {exc}."
        except TimeoutError:
            outcome, message = Outcome.TIMEOUT, f"The {name} skill did not finish within {timeout:g} s and was stopped."
        except QiraError as exc:
            outcome, message = Outcome.ERROR, f"The {name} skill failed: {exc}"
        except Exception as exc:  # a skill is third-party code: whatever it raises fails only this step
            log.warning("skill %s raised", name, exc_info=True)
            outcome, message = Outcome.ERROR, f"The {name} skill failed: {type(exc).__name__}: {exc}"
        else:
            return await self._finish(
                call,
                device,
                thread,
                turn,
                Outcome.OK,
                reply.text,
                data=reply.data,
                approval=approval,
                started=started,
                granted=granted,
                used=ctx.used,
                streamed=streamed,
                action=skill.describe(arguments),
            )
        return await self._finish(
            call,
            device,
            thread,
            turn,
            outcome,
            message,
            detail=message,
            approval=approval,
            started=started,
            granted=granted,
            used=ctx.used,
            streamed=False,
            action=skill.describe(call.get("arguments") or {}),
        )

    async def refuse(
        self, call: Mapping[str, Any], *, device: DeviceInfo, thread: str, turn: str, approval: str, message: str
    ) -> StepResult:
        """The person denied the step (or let the approval expire): record it, run nothing."""
        skill = self.registry.get(call["skill"])
        action = skill.describe(call.get("arguments") or {}) if skill else call["skill"]
        granted = self.registry.granted(skill, device) if skill else frozenset()
        return await self._finish(
            call,
            device,
            thread,
            turn,
            Outcome.DENIED,
            message,
            detail=approval,
            approval=approval,
            started=time.perf_counter(),
            granted=granted,
            action=action,
        )

    async def _finish(
        self,
        call: Mapping[str, Any],
        device: DeviceInfo,
        thread: str,
        turn: str,
        outcome: Outcome,
        text: str,
        *,
        approval: str,
        started: float,
        detail: str = "",
        data: Mapping[str, Any] | None = None,
        granted: frozenset = frozenset(),
        used: set | None = None,
        streamed: bool = False,
        action: str = "",
    ) -> StepResult:
        entry = AuditEntry(
            ts=time.time(),
            skill=call["skill"],
            action=action or call["skill"],
            outcome=outcome,
            detail=detail,
            device=device.id,
            device_name=device.name,
            thread=thread,
            turn=turn,
            permissions_granted=tuple(sorted(p.value for p in granted)),
            permissions_used=tuple(sorted(p.value for p in (used or ()))),
            approval=approval,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        try:
            await self.audit.append(entry)
        except Exception:  # losing one audit row must not lose the person's answer
            log.exception("could not write the audit log")
        return StepResult(
            call_id=call.get("id", ""),
            skill=call["skill"],
            outcome=outcome,
            text=text,
            data=data or {},
            streamed=streamed,
        )
