"""Qira's skills at ``/mcp`` on a real hub, through the official ``mcp`` client; MCP
servers configured on the same hub (a real one from PyPI, one that exits at once,
one that hangs); a device turn that calls an MCP server's tool."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest

from tests._hub import HubProcess
from tests.mcp._support import (
    DEAD_SERVER,
    HUNG_SERVER,
    TIME_SERVER,
    ToolCallingEndpoint,
    audit,
    device,
    http_client,
    install_test_skills,
    issue_token,
    next_event,
    revoke,
    text_of,
)

TOKYO = {"timezone": "Asia/Tokyo"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mcp-http")
    site = install_test_skills(tmp / "site")
    endpoint = ToolCallingEndpoint(
        tool="time__get_current_time", arguments=TOKYO, answer="In Tokyo it is morning now."
    ).start()
    data = tmp / "hub"
    data.mkdir()
    (data / "config.toml").write_text(
        '[inference]\npolicy = "prefer-cloud"\nprivacy_rule = false\n'
        f'[inference.cloud]\nbase_url = "{endpoint.base_url}"\nmodel = "scripted"\nmax_retries = 0\n'
        '[skills.grants]\nsystem_info = ["-system@blocked"]\n'
        + TIME_SERVER.replace("[mcp.servers.time]", '[mcp.servers.time]\ngrants = ["-system@wearable"]')
        + DEAD_SERVER
        + HUNG_SERVER
    )
    tokens = {
        name: issue_token(data, name, kind)
        for name, kind in (  # before the hub starts: known at once
            ("claude", "pc"),
            ("blocked", "pc"),
            ("watch", "wearable"),
            ("temporary", "pc"),
        )
    }
    hub = HubProcess(data, env={"QIRA_HUB_WARM_UP": "false", "PYTHONPATH": str(site)}).start(timeout=60)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # the MCP servers settle in the background
        components = hub.health()["components"]
        states = {components.get(f"mcp.{n}", {}).get("state") for n in ("time", "dead", "hung")}
        if states <= {"ready", "error"}:
            break
        time.sleep(0.2)
    yield {
        "hub": hub,
        "data": data,
        "tmp": tmp,
        "token": tokens["claude"],
        "tokens": tokens,
        "url": hub.http_url + "/mcp",
        "endpoint": endpoint,
        "site": site,
    }
    hub.stop()
    endpoint.stop()


def test_lists_skills_and_server_tools_and_calls_them(world):
    async def run() -> None:
        for mode in ("auto", "legacy"):  # the 2026-07-28 revision, and a handshake-era client (Claude Desktop)
            async with http_client(world["url"], world["token"], mode=mode) as client:
                tools = {t.name: t for t in (await client.list_tools()).tools}
                assert {"time_now", "pay", "memory_search", "time.get_current_time"} <= set(tools)
                assert not {"remember", "recall", "forget"} & set(tools)  # memory only through the read-only search
                assert tools["pay"].annotations.destructive_hint is True
                assert tools["pay"].input_schema["properties"]["amount"]["type"] == "integer"
                now = await client.call_tool("time_now", {})
                assert not now.is_error and "It's" in text_of(now)
                tokyo = await client.call_tool("time.get_current_time", TOKYO)
                assert not tokyo.is_error, text_of(tokyo)
                assert tokyo.structured_content["structured"]["timezone"] == "Asia/Tokyo"
                missing = await client.call_tool("no_such_tool", {})
                assert missing.is_error and "no tool named" in text_of(missing)

    asyncio.run(run())
    rows = audit(world["data"], "time.get_current_time")
    assert rows and rows[-1].outcome.value == "ok" and rows[-1].device_name == "claude"
    assert rows[-1].permissions_used == ("system",)


def test_a_withheld_grant_is_refused_and_audited(world):
    blocked, watch = world["tokens"]["blocked"], world["tokens"]["watch"]

    async def run() -> None:
        async with http_client(world["url"], blocked) as client:
            result = await client.call_tool("system_info", {})
            assert result.is_error and "not granted the 'system' permission" in text_of(result)
            allowed = await client.call_tool("time.get_current_time", TOKYO)  # the rule names system_info only
            assert not allowed.is_error
        async with http_client(world["url"], watch) as client:  # the server's grants: "-system@wearable"
            result = await client.call_tool("time.get_current_time", TOKYO)
            assert result.is_error and "not granted" in text_of(result)

    asyncio.run(run())
    denied = [e for e in audit(world["data"], "system_info") if e.device_name == "blocked"]
    assert denied and denied[-1].outcome.value == "permission_denied"
    assert [e.outcome.value for e in audit(world["data"], "time.get_current_time") if e.device_name == "watch"] == [
        "permission_denied"
    ]


def test_a_high_risk_tool_waits_for_approval_on_the_persons_device(world):
    async def run() -> None:
        async with device(world["hub"].ws_url, world["data"], world["tmp"] / "phone") as phone:
            async with http_client(world["url"], world["token"]) as client:
                call = asyncio.ensure_future(client.call_tool("pay", {"amount": 12}))
                request = await next_event(phone, "approval.request")
                assert request["skill"] == "pay" and "Pay 12 euros" in request["summary"]
                assert "claude" in request["summary"]  # who asks
                assert not call.done()
                await phone.request("approval.respond", {"approval": request["approval"], "approve": True})
                result = await asyncio.wait_for(call, 60)
                assert not result.is_error and text_of(result) == "Paid 12 euros."

                call = asyncio.ensure_future(client.call_tool("pay", {"amount": 900}))
                request = await next_event(phone, "approval.request")
                await phone.request("approval.respond", {"approval": request["approval"], "approve": False})
                result = await asyncio.wait_for(call, 60)
                assert result.is_error and "you declined" in text_of(result)

    asyncio.run(run())
    rows = [e for e in audit(world["data"], "pay") if e.device_name == "claude"]
    assert [(e.outcome.value, e.approval) for e in rows[-2:]] == [("ok", "approved"), ("denied", "denied")]


def test_a_revoked_or_missing_token_is_refused(world):
    token = world["tokens"]["temporary"]

    async def calls_ok(bearer: str | None) -> bool:
        try:
            async with http_client(world["url"], bearer) as client:
                return not (await client.call_tool("time_now", {})).is_error
        except Exception:  # the SDK raises the 401 out of its task groups
            return False

    async def run() -> None:
        assert await calls_ok(token)
        assert not await calls_ok(None)
        assert not await calls_ok("qd_not-a-token")
        revoke(world["data"], "temporary")
        deadline = time.monotonic() + 30  # the hub picks up revocations made by another process
        while await calls_ok(token):
            assert time.monotonic() < deadline, "the revoked token still works"
            await asyncio.sleep(0.3)

    asyncio.run(run())
    assert world["hub"].proc.poll() is None


def test_failing_servers_are_reported_and_contained(world):
    components = world["hub"].health()["components"]
    assert components["mcp.time"]["state"] == "ready"
    dead, hung = components["mcp.dead"], components["mcp.hung"]
    assert dead["state"] == "error" and "no config for me" in dead["reason"] and "tools are disabled" in dead["reason"]
    assert hung["state"] == "error" and "within 3 s" in hung["reason"]
    listing = subprocess.run(
        [sys.executable, "-m", "qira.cli", "skill", "list", "--data-dir", str(world["data"]), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**world["hub"].env, "PYTHONPATH": str(world["site"])},
    )
    assert listing.returncode == 0, listing.stderr
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    servers = {r["server"]: r for r in rows if "server" in r}
    assert servers["dead"]["state"] == "error" and "no config for me" in servers["dead"]["reason"]
    assert servers["hung"]["state"] == "error"
    tools = {r["name"]: r for r in rows if r.get("source") == "mcp:time"}
    assert tools["time.get_current_time"]["risk"] == "low"  # readOnlyHint


def test_a_device_turn_calls_an_mcp_tool_offered_by_relevance(world):
    endpoint = world["endpoint"]
    endpoint.reset()

    async def run() -> dict:
        async with device(
            world["hub"].ws_url, world["data"], world["tmp"] / "tablet", name="tablet", kind="tablet"
        ) as tablet:
            await tablet.request("chat.send", {"text": "What time is it in Tokyo right now?"})
            return await next_event(tablet, "chat.done", timeout=120)

    done = asyncio.run(run())
    assert done["text"] == "In Tokyo it is morning now."
    planned = next(r for r in endpoint.requests if r.body.get("tools"))
    offered = {t["function"]["name"] for t in planned.body["tools"]}
    assert "time__get_current_time" in offered
    phrased = next(r for r in endpoint.requests if any(m.get("role") == "tool" for m in r.body["messages"]))
    tool_message = next(m for m in phrased.body["messages"] if m.get("role") == "tool")
    assert "Asia/Tokyo" in tool_message["content"]
    called = next(m for m in phrased.body["messages"] if m.get("tool_calls"))
    assert called["tool_calls"][0]["function"]["name"] == "time__get_current_time"  # no dots for OpenAI
    rows = [e for e in audit(world["data"], "time.get_current_time") if e.device_name == "tablet"]
    assert rows and rows[-1].outcome.value == "ok"
