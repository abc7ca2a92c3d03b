"""Finding skills (entry points, group ``qira.skills``) and deciding what each may use.

An entry point names a :class:`~qira.sdk.Skill` or a list of them. One that fails
to import or names something else is reported and skipped: a broken package
never keeps the hub from starting.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata

from ..config import SkillsConfig
from ..devices import DeviceInfo
from ..sdk import Permission, Skill

__all__ = ["ENTRY_POINT_GROUP", "Grant", "LoadProblem", "SkillRegistry", "discover"]

log = logging.getLogger("qira.agent.skills")

ENTRY_POINT_GROUP = "qira.skills"


@dataclass(frozen=True, kw_only=True)
class LoadProblem:
    entry_point: str
    error: str


@dataclass(frozen=True, kw_only=True)
class Grant:
    """One ``[skills.grants]`` entry: ``"network"``, ``"-system"``, ``"-notify@wearable"``."""

    permission: Permission
    allow: bool
    where: str | None = None  # a device kind or id; None: everywhere

    @classmethod
    def parse(cls, text: str) -> Grant:
        allow = not text.startswith("-")
        body = text.lstrip("+-")
        perm, _, where = body.partition("@")
        return cls(permission=Permission(perm), allow=allow, where=where or None)

    def applies(self, device: DeviceInfo | None) -> bool:
        if self.where is None:
            return True
        return device is not None and self.where in (device.id, device.kind.value, device.name)


def discover() -> tuple[dict[str, tuple[Skill, str]], list[LoadProblem]]:
    """Every skill announced by an installed package: ``{name: (skill, source)}``."""
    found: dict[str, tuple[Skill, str]] = {}
    problems: list[LoadProblem] = []
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        source = f"{ep.dist.name if ep.dist else '?'}:{ep.value}"
        try:
            obj = ep.load()
            skills = [obj] if isinstance(obj, Skill) else list(obj)
            bad = [s for s in skills if not isinstance(s, Skill)]
            if bad or not skills:
                raise TypeError(f"expected a Skill or a list of Skills, got {type(obj).__name__}")
        except Exception as exc:  # a third-party package can raise anything on import
            problems.append(LoadProblem(entry_point=source, error=f"{type(exc).__name__}: {exc}"))
            log.warning("skill entry point %s failed to load: %s", source, exc)
            continue
        for s in skills:
            if s.name in found:
                problems.append(
                    LoadProblem(entry_point=source, error=f"skill name {s.name!r} already taken by {found[s.name][1]}")
                )
                continue
            found[s.name] = (s, source)
    return found, problems


class SkillRegistry:
    """The enabled skills and their grants."""

    def __init__(
        self,
        skills: Iterable[Skill] | Mapping[str, tuple[Skill, str]],
        config: SkillsConfig,
        problems: Iterable[LoadProblem] = (),
    ) -> None:
        if isinstance(skills, Mapping):
            entries = dict(skills)
        else:
            entries = {s.name: (s, "in-process") for s in skills}
        self.config = config
        self.problems = list(problems)
        self.sources = {name: src for name, (_, src) in entries.items()}
        self.disabled = sorted(n for n in entries if n in config.disabled)
        self._skills = {name: s for name, (s, _) in entries.items() if name not in config.disabled}
        self._runtime: set[str] = set()  # added while running (MCP tools): offered to a model only when relevant
        self._aliases: dict[str, str] = {}  # tool-call name -> skill name, where they differ ("srv__tool")
        self._added_grants: dict[str, list[Grant]] = {}  # rules given with add(), before the config's own
        self._grants: dict[str, list[Grant]] = {}
        for name, texts in config.grants.items():
            try:
                self._grants[name] = [Grant.parse(t) for t in texts]
            except ValueError as exc:
                self.problems.append(LoadProblem(entry_point=f"[skills.grants] {name}", error=str(exc)))

    @classmethod
    def from_entry_points(cls, config: SkillsConfig) -> SkillRegistry:
        found, problems = discover()
        return cls(found, config, problems)

    def replace(self, other: SkillRegistry) -> None:
        """Take ``other``'s skills in place (``qira skill reload``): the runner and the
        planner hold this object, so they see the new skills at once."""
        self.__dict__.update(other.__dict__)

    def __contains__(self, name: str) -> bool:
        return name in self._skills

    def __iter__(self):
        return iter(self._skills.values())

    def __len__(self) -> int:
        return len(self._skills)

    def get(self, name: str) -> Skill | None:
        return self._skills.get(name) or self._skills.get(self._aliases.get(name, ""))

    def add(self, skill: Skill, *, source: str, grants: Iterable[str] = ()) -> bool:
        """Add a skill while running (an MCP server's tool); ``grants`` apply before the
        config's own rules for it. False when the name is taken or disabled."""
        if skill.name in self._skills or skill.name in self.config.disabled:
            return False
        rules = [Grant.parse(t) for t in grants]  # ValueError: the caller reports it
        self._skills[skill.name] = skill
        self.sources[skill.name] = source
        self._runtime.add(skill.name)
        self._added_grants[skill.name] = rules
        tool_name = skill.tool_schema()["function"]["name"]
        if tool_name != skill.name:
            self._aliases[tool_name] = skill.name
        return True

    def added_while_running(self, name: str) -> bool:
        """Was ``name`` added with :meth:`add` (an MCP tool), not found at start-up?"""
        return name in self._runtime

    def remove(self, name: str) -> None:
        """Take back a skill added with :meth:`add` (its server went away)."""
        if name in self._runtime:
            self._runtime.discard(name)
            self._skills.pop(name, None)
            self._added_grants.pop(name, None)
            self._aliases = {k: v for k, v in self._aliases.items() if v != name}

    def granted(self, skill: Skill, device: DeviceInfo | None = None) -> frozenset[Permission]:
        """What the skill may use when asked from ``device``: what it declares, plus
        config grants, minus config withholdings (later entries win)."""
        perms = set(skill.permissions)
        for grant in [*self._added_grants.get(skill.name, []), *self._grants.get(skill.name, [])]:
            if grant.applies(device):
                (perms.add if grant.allow else perms.discard)(grant.permission)
        return frozenset(perms)

    def tools(self, relevant: Iterable[str] | None = None) -> list[dict]:
        """Tool schemas for a model. Skills added while running (a dozen MCP servers' tools)
        only when named in ``relevant`` (the request's intent matches), so they do not
        flood a small context window; ``None``: every skill."""
        wanted = None if relevant is None else set(relevant)
        return [
            s.tool_schema()
            for name, s in self._skills.items()
            if wanted is None or name not in self._runtime or name in wanted
        ]
