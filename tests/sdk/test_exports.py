"""The public SDK surface is pinned: adding is a minor version, removing or renaming a major one."""

import qira.sdk

EXPORTS = [
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

CONTEXT_METHODS = [
    "cancel",
    "complete",
    "delete",
    "devices",
    "forget",
    "get",
    "items",
    "log",
    "memories",
    "notify",
    "now",
    "put",
    "recall",
    "remember",
    "require",
    "schedule",
    "scheduled",
    "stream",
    "system_info",
]
CONTEXT_FIELDS = ["skill", "device", "thread", "turn", "text", "granted", "history", "host", "used"]


def test_sdk_exports_are_pinned():
    assert sorted(qira.sdk.__all__) == sorted(EXPORTS)
    for name in EXPORTS:
        assert getattr(qira.sdk, name) is not None


def test_context_surface_is_pinned():
    import dataclasses

    fields = [f.name for f in dataclasses.fields(qira.sdk.SkillContext)]
    assert fields == CONTEXT_FIELDS
    methods = sorted(n for n in dir(qira.sdk.SkillContext) if not n.startswith("_") and n not in fields)
    assert methods == CONTEXT_METHODS


def test_permissions_and_risks_are_pinned():
    assert [p.value for p in qira.sdk.Permission] == ["memory.read", "memory.write", "notify", "network", "system"]
    assert [r.value for r in qira.sdk.Risk] == ["low", "medium", "high"]
