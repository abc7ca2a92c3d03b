"""The public skill SDK. A skill imports from here and nowhere else in Qira.

See ``docs/skills-sdk.md``. What this module exports is pinned by a test: adding
is a minor version, removing or renaming is a major one.
"""

from ..devices import DeviceInfo, DeviceKind
from ..errors import PermissionDenied, SkillError, SkillTimeout
from ..memory._types import Memory, MemoryKind, Scope, SearchHit
from ._context import Scheduled, SkillContext
from ._schema import InvalidArguments, Param
from ._skill import Permission, Reply, Risk, Skill, skill

__all__ = [
    "DeviceInfo",
    "DeviceKind",
    "InvalidArguments",
    "Memory",
    "MemoryKind",
    "Param",
    "Permission",
    "PermissionDenied",
    "Reply",
    "Risk",
    "Scheduled",
    "Scope",
    "SearchHit",
    "Skill",
    "SkillContext",
    "SkillError",
    "SkillTimeout",
    "skill",
]
