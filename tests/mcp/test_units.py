"""The pieces without processes: tools as skills, risk from annotations, the registry
and intent matcher taking skills while running, relevance, config checks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from qira.agent import IntentMatcher, SkillRegistry
from qira.config import ConfigError, SkillsConfig, load_config
from qira.devices import DeviceInfo, DeviceKind
from qira.mcp import risk_of, tool_skill
from qira.mcp._skills import ToolOutcome
from qira.sdk import InvalidArguments, Permission, Risk
from qira.sdk.testing import FakeHost

TIME_TOOL = {
    "name": "get_current_time",
    "description": "Get current time in a specific timezone",
    "inputSchema": {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]},
    "annotations": {"readOnlyHint": True},
}


def make(server: str, tool: dict[str, Any], calls: list | None = None, **kw: Any):
    async def call(name: str, arguments: dict[str, Any]) -> ToolOutcome:
        if calls is not None:
            calls.append((name, arguments))
        return ToolOutcome(text=f"{name} {arguments}", structured={"ok": True})

    return tool_skill(
        server=server, tool=tool, call=call, permissions=frozenset(kw.pop("perms", [Permission.SYSTEM])), **kw
    )


@pytest.mark.parametrize(
    ("annotations", "override", "risk"),
    [
        ({"readOnlyHint": True}, "", Risk.LOW),
        ({"destructiveHint": False}, "", Risk.MEDIUM),
        ({"destructiveHint": True}, "", Risk.HIGH),
        ({}, "", Risk.HIGH),  # no hints: the spec's defaults are the worst case
        (None, "", Risk.HIGH),
        ({"readOnlyHint": True}, "high", Risk.HIGH),  # the person's config wins
    ],
)
def test_risk_from_annotations(annotations, override, risk):
    assert risk_of(annotations, override) is risk


def test_a_tool_becomes_a_skill_with_its_schema_and_calls_through():
    calls: list = []
    s = make("time", TIME_TOOL, calls)
    assert s.name == "time.get_current_time" and s.risk is Risk.LOW
    assert s.params_schema() == TIME_TOOL["inputSchema"]
    assert s.tool_schema()["function"]["name"] == "time__get_current_time"
    assert [p.name for p in s.params if p.required] == ["timezone"]
    with pytest.raises(InvalidArguments):
        s.coerce({})
    reply = FakeHost().call(s, grants=["system"], timezone="Asia/Tokyo")
    assert calls == [("get_current_time", {"timezone": "Asia/Tokyo"})]
    assert reply.data == {"structured": {"ok": True}}


def test_a_tool_without_its_permission_is_not_called():
    from qira.errors import PermissionDenied

    calls: list = []
    s = make("time", TIME_TOOL, calls)
    with pytest.raises(PermissionDenied):
        FakeHost().call(s, grants=[], timezone="UTC")
    assert calls == []


def test_json_parameters_coerce_slot_text():
    tool = {
        "name": "add-item",
        "inputSchema": {
            "type": "object",
            "properties": {"count": {"type": "integer"}, "urgent": {"type": "boolean"}, "tags": {"type": "array"}},
        },
    }
    s = make("todo", tool)
    assert s.name == "todo.add-item" and s.tool_schema()["function"]["name"] == "todo__add-item"
    assert s.coerce({"count": "3", "urgent": "yes", "tags": ["a"]}) == {"count": 3, "urgent": True, "tags": ["a"]}
    with pytest.raises(InvalidArguments):
        s.coerce({"count": "many"})
    with pytest.raises(InvalidArguments):
        s.coerce({"colour": "red"})


def test_registry_takes_runtime_skills_grants_and_aliases():
    registry = SkillRegistry([], SkillsConfig(grants={"time.get_current_time": ["system"]}))
    s = make("time", TIME_TOOL)
    assert registry.add(s, source="mcp:time", grants=["-system@wearable"])
    assert not registry.add(s, source="mcp:time")  # taken
    assert registry.get("time__get_current_time") is s  # a model's tool call finds it
    watch = DeviceInfo(id="w", name="watch", kind=DeviceKind.WEARABLE)
    phone = DeviceInfo(id="p", name="phone", kind=DeviceKind.PHONE)
    assert Permission.SYSTEM in registry.granted(s, phone)
    # the server's rule first, then the person's own rules for the tool (which win)
    assert Permission.SYSTEM in registry.granted(s, watch)
    registry.remove(s.name)
    assert registry.get(s.name) is None and registry.get("time__get_current_time") is None


def test_only_relevant_runtime_tools_are_offered_to_a_model(embedder):
    from skills.clock import SKILLS as clock

    registry = SkillRegistry(list(clock), SkillsConfig())
    matcher = IntentMatcher(list(registry), embedder)
    tools = (
        [make("time", TIME_TOOL)]
        + [
            make("github", {"name": n, "description": d})
            for n, d in (
                ("create_issue", "Create a new issue in a GitHub repository"),
                ("list_pull_requests", "List pull requests of a repository"),
                ("merge_pull_request", "Merge a pull request"),
            )
        ]
        + [make("files", {"name": "delete_file", "description": "Delete a file from the disk"})]
    )

    async def run() -> list[str]:
        await matcher.prepare()
        for t in tools:
            registry.add(t, source="mcp:test")
        await matcher.add(tools)
        matches = await matcher.match("what time is it in Tokyo right now", k=3)
        return [m.skill for m in matches]

    relevant = asyncio.run(run())
    offered = {t["function"]["name"] for t in registry.tools(relevant=relevant)}
    assert "time__get_current_time" in offered
    assert not {"github__create_issue", "github__merge_pull_request", "files__delete_file"} & offered
    assert {s.name for s in clock} <= offered  # installed skills are offered as before
    assert len(registry.tools()) == len(clock) + len(tools)
    matcher.remove(["time.get_current_time"])
    assert "time.get_current_time" not in [m.skill for m in asyncio.run(matcher.match("what time is it in Tokyo"))]


def test_memory_search_never_returns_private_memories():
    from qira.mcp import memory_search
    from qira.sdk import MemoryKind, Scope

    host = FakeHost()
    for text, scope in (
        ("The wifi password is hunter2", Scope.PRIVATE),
        ("The office wifi is called Qira-5G", Scope.SHARED),
    ):
        asyncio.run(host.memory_add(text, kind=MemoryKind.FACT, scope=scope, device=None, importance=0.5))
    reply = host.call(memory_search, query="wifi password", k=5)
    assert "Qira-5G" in reply.text and "hunter2" not in reply.text
    assert [m["scope"] for m in reply.data["memories"]] == ["shared"]


def test_config_permissions_mirror_the_sdk():
    from qira.config import _PERMISSIONS

    assert _PERMISSIONS == {p.value for p in Permission}


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[mcp.servers.x]\nargs = ["a"]\n', "either command"),
        ('[mcp.servers.x]\ncommand = "a"\nurl = "http://127.0.0.1:1/mcp"\n', "either command"),
        ('[mcp.servers.Bad-Name]\ncommand = "a"\n', "server name"),
        ('[mcp.servers.x]\ncommand = "a"\nrisk = "extreme"\n', "risk"),
        ('[mcp.servers.x]\ncommand = "a"\npermissions = ["root"]\n', "unknown permissions"),
    ],
)
def test_bad_server_config_is_a_clear_error(tmp_path, toml, message):
    file = tmp_path / "q.toml"
    file.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_config(file, env={})
