"""``qira mcp`` over stdio with the official ``mcp`` client: in-process without a hub,
and as a bridge to a running hub (approvals reach the person's devices)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from tests._hub import HubProcess
from tests.mcp._support import audit, device, install_test_skills, issue_token, next_event, revoke, text_of


def stdio(data, site, *extra: str):
    from mcp.client.stdio import StdioServerParameters

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(site), "QIRA_HUB_WARM_UP": "false"}
    return StdioServerParameters(
        command=sys.executable, args=["-m", "qira.cli", "mcp", "--data-dir", str(data), *extra], env=env
    )


@pytest.fixture
def site(tmp_path):
    return install_test_skills(tmp_path / "site")


def test_in_process_lists_calls_and_keeps_grants(tmp_path, site):
    from mcp import Client

    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text('[hub]\nport = 9\n[skills.grants]\nsystem_info = ["-system@desk"]\n')

    async def run() -> None:
        async with Client(stdio(data, site, "--name", "desk")) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"time_now", "pay", "memory_search", "system_info"} <= names and "forget" not in names
            now = await client.call_tool("time_now", {})
            assert not now.is_error and "It's" in text_of(now)
            denied = await client.call_tool("system_info", {})
            assert denied.is_error and "not granted" in text_of(denied)
            # no hub, so nobody to ask: a high-risk tool is refused, not run
            risky = await client.call_tool("pay", {"amount": 5})
            assert risky.is_error and "no hub is running" in text_of(risky)
            memories = await client.call_tool("memory_search", {"query": "wifi"})
            assert not memories.is_error

    asyncio.run(run())
    assert (data / "mcp" / "desk.token").is_file()  # paired on first use, token kept for next time
    assert [e.outcome.value for e in audit(data, "system_info")] == ["permission_denied"]
    assert [(e.outcome.value, e.device_name) for e in audit(data, "pay")] == [("denied", "desk")]
    assert [e.device_name for e in audit(data, "memory_search")] == ["desk"]


def test_a_revoked_client_is_refused(tmp_path, site):
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text("[hub]\nport = 9\n")
    token = issue_token(data, "gone")
    revoke(data, "gone")
    params = stdio(data, site, "--token", token)
    done = subprocess.run(
        [params.command, *params.args], input="", capture_output=True, text=True, timeout=120, env=params.env
    )
    assert done.returncode == 1
    assert "unknown or revoked" in done.stderr and not done.stdout  # stdout is the MCP wire: nothing on it


def test_bridge_to_a_running_hub_gets_approvals_from_a_device(tmp_path, site):
    from mcp import Client

    data = tmp_path / "hub"
    hub = HubProcess(data, env={"QIRA_HUB_WARM_UP": "false", "PYTHONPATH": str(site)}).start(timeout=60)
    try:
        (data / "config.toml").write_text(f"[hub]\nport = {hub.port}\n")  # where `qira mcp` looks for the hub

        async def run() -> None:
            async with device(hub.ws_url, data, tmp_path / "phone") as phone:
                async with Client(stdio(data, site, "--name", "claude-desktop")) as client:
                    assert "pay" in {t.name for t in (await client.list_tools()).tools}
                    call = asyncio.ensure_future(client.call_tool("pay", {"amount": 3}))
                    request = await next_event(phone, "approval.request")
                    assert "claude-desktop" in request["summary"]
                    await phone.request("approval.respond", {"approval": request["approval"], "approve": True})
                    result = await asyncio.wait_for(call, 60)
                    assert not result.is_error and text_of(result) == "Paid 3 euros."

        asyncio.run(run())
        rows = audit(data, "pay")
        assert [(e.outcome.value, e.approval, e.device_name) for e in rows] == [("ok", "approved", "claude-desktop")]
        # in-process beside the running hub would be a second agent on its data directory
        params = stdio(data, site, "--name", "claude-desktop", "--local")
        local = subprocess.run(
            [params.command, *params.args], input="", capture_output=True, text=True, timeout=120, env=params.env
        )
        assert local.returncode == 1 and not local.stdout, local.stdout
        assert f"pid {hub.proc.pid}" in local.stderr and "already running" in local.stderr, local.stderr
    finally:
        hub.stop()
