"""What a skill is: a declaration (name, examples, typed parameters, permissions, risk)
around one async function that receives a :class:`~qira.sdk.SkillContext`."""

from __future__ import annotations

import enum
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._schema import InvalidArguments, Param, params_from_signature

__all__ = ["Permission", "Reply", "Risk", "Skill", "skill"]

NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")  # also a valid OpenAI function name
_SLOT = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class Permission(enum.StrEnum):
    """What a skill may use through its context. A skill declares what it needs; the
    person's config can withhold any of it (``[skills.grants]``)."""

    MEMORY_READ = "memory.read"  # search and list the person's memories
    MEMORY_WRITE = "memory.write"  # add and forget memories
    NOTIFY = "notify"  # see the person's devices, notify them, schedule reminders
    NETWORK = "network"  # send text to the cloud model or the network
    SYSTEM = "system"  # read or act on the hub's machine


class Risk(enum.StrEnum):
    """How much harm a wrong call can do. ``HIGH`` pauses the turn until the person
    approves on one of their devices."""

    LOW = "low"  # reads, or writes that are trivially undone
    MEDIUM = "medium"  # writes the person would notice
    HIGH = "high"  # destructive or outward actions: needs approval

    @property
    def needs_approval(self) -> bool:
        return self is Risk.HIGH


@dataclass(frozen=True, kw_only=True)
class Reply:
    """What a skill returns when plain text is not enough."""

    text: str
    data: Mapping[str, Any] = field(default_factory=dict)  # structured result, for the cloud model and the audit


@dataclass(frozen=True, kw_only=True)
class Skill:
    name: str
    description: str
    handler: Callable[..., Any]
    examples: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    permissions: frozenset[Permission] = frozenset()
    risk: Risk = Risk.LOW
    timeout_s: float | None = None  # None: the hub's agent.skill_timeout_s
    summary: str = ""  # approval text, a template over the parameters: "Forget memories about {query}"
    # Only reads and talks (no note, memory, reminder, message or system change). A skill
    # that changes something acts only on a high-confidence match; below it Qira asks back.
    read_only: bool = False
    # slot name -> converter for pattern slots ("a duration", "a language"): a converter that
    # raises ValueError (or returns None) makes the pattern fall through to the next one.
    slots: Mapping[str, Callable[[str], Any]] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise ValueError(f"skill name {self.name!r}: lowercase letters, digits and _ only, starting with a letter")
        if not self.description.strip():
            raise ValueError(f"skill {self.name}: a description is required (models read it to choose the skill)")
        names = {p.name for p in self.params}
        for pattern in self.patterns:
            unknown = set(_SLOT.findall(pattern)) - names
            if unknown:
                raise ValueError(f"skill {self.name}: pattern {pattern!r} names unknown parameters {sorted(unknown)}")
        unknown_slots = set(self.slots) - names
        if unknown_slots:
            raise ValueError(f"skill {self.name}: slots {sorted(unknown_slots)} are not parameters")

    @property
    def streams(self) -> bool:
        return inspect.isasyncgenfunction(self.handler)

    def params_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {p.name: dict(p.schema) for p in self.params},
            "required": [p.name for p in self.params if p.required],
            "additionalProperties": False,
        }

    def tool_schema(self) -> dict[str, Any]:
        """The OpenAI "function" tool for cloud tool calling."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.params_schema()},
        }

    def coerce(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and convert arguments (from slot extraction or a model) to the declared types."""
        known = {p.name: p for p in self.params}
        unknown = set(arguments) - set(known)
        if unknown:
            raise InvalidArguments(f"skill {self.name}: unknown parameters {sorted(unknown)}")
        out: dict[str, Any] = {}
        for p in self.params:
            value = arguments.get(p.name)
            if value is None or value == "":
                if p.required:
                    raise InvalidArguments(f"skill {self.name}: parameter {p.name!r} is required")
                out[p.name] = p.default
            else:
                out[p.name] = p.coerce(value)
        return out

    def describe(self, arguments: Mapping[str, Any]) -> str:
        """One line for an approval request or the audit log."""
        if self.summary:
            try:
                return self.summary.format(**{p.name: arguments.get(p.name, "") for p in self.params})
            except (KeyError, IndexError, ValueError):
                pass
        shown = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
        return f"{self.name}({shown})"

    def pattern_regexes(self) -> tuple[re.Pattern[str], ...]:
        """Patterns compiled for slot extraction: ``{slot}`` matches a run of words."""
        return tuple(_compile(p) for p in self.patterns)


def _compile(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    last = 0
    for match in _SLOT.finditer(pattern):
        parts.append(_literal(pattern[last : match.start()]))
        parts.append(f"(?P<{match.group(1)}>.+?)")
        last = match.end()
    parts.append(_literal(pattern[last:]))
    return re.compile("".join(parts), re.IGNORECASE)


def _literal(text: str) -> str:
    # Spaces in a pattern match any run of whitespace; the rest literally.
    return r"\s+".join(re.escape(word) for word in text.split(" ")) if text else ""


def skill(
    *,
    name: str | None = None,
    description: str,
    examples: Iterable[str] = (),
    patterns: Iterable[str] = (),
    permissions: Iterable[Permission | str] = (),
    risk: Risk | str = Risk.LOW,
    timeout_s: float | None = None,
    summary: str = "",
    read_only: bool = False,
    slots: Mapping[str, Callable[[str], Any]] | None = None,
) -> Callable[[Callable[..., Any]], Skill]:
    """Declare a skill from an ``async def`` whose first parameter is the context::

        @skill(description="Say hello to someone", examples=["say hi to Ana"],
               patterns=["say hi to {who}"])
        async def greet(ctx: SkillContext, who: str) -> str:
            return f"Hello, {who}!"

    ``read_only=True`` says the skill only reads and talks; any other skill acts only on
    a high-confidence match. ``slots`` maps a parameter to a converter that checks a
    pattern's slot ("a duration", "a language"); when it raises ``ValueError`` or returns
    ``None`` the next pattern is tried.

    The function may also be an async generator yielding text chunks (streamed to
    the device as they come), or a plain function (run in a worker thread).
    """

    def wrap(fn: Callable[..., Any]) -> Skill:
        if not list(inspect.signature(fn).parameters):
            raise TypeError(f"skill {fn.__name__}: the first parameter must be the context")
        return Skill(
            name=name or fn.__name__,
            description=description.strip(),
            handler=fn,
            examples=tuple(examples),
            patterns=tuple(patterns),
            params=params_from_signature(fn),
            permissions=frozenset(Permission(p) for p in permissions),
            risk=Risk(risk),
            timeout_s=timeout_s,
            summary=summary,
            read_only=read_only,
            slots=dict(slots or {}),
        )

    return wrap
