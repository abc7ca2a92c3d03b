"""Shared parts for the MCP tests: a test skill installed through an entry point (as
``pip install`` would), hub config, the official ``mcp`` client, a scripted
tool-calling endpoint, and a paired Python device that answers approvals."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from device_adapters.session import DeviceSession
from qira.agent import agent_db_path, read_audit
from qira.sync import SyncStore
from tests.inference.servers import FaultServer, _chunk, _event

PY = sys.executable

TEST_SKILLS = textwrap.dedent("""
    from qira.sdk import Risk, SkillContext, skill


    @skill(description="Send money to someone (a test skill)", examples=["send money to the test account"],
           risk=Risk.HIGH, summary="Pay {amount} euros")
    async def pay(ctx: SkillContext, amount: int) -> str:
        return f"Paid {amount} euros."


    SKILLS = [pay]
""")


def install_test_skills(site: Path) -> Path:
    """What ``pip install`` leaves behind: the module and a dist-info with the entry point."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "qira_mcp_test_skills.py").write_text(TEST_SKILLS)
    info = site / "qira_mcp_test_skills-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qira-mcp-test-skills\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[qira.skills]\nmcp_test = qira_mcp_test_skills:SKILLS\n")
    return site


def server_toml(name: str, *args: str, **extra: Any) -> str:
    """A ``[mcp.servers.NAME]`` stdio entry running this Python."""
    lines = [f"[mcp.servers.{name}]", f"command = {json.dumps(PY)}", f"args = {json.dumps(list(args))}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


TIME_SERVER = server_toml("time", "-m", "mcp_server_time", "--local-timezone", "UTC")
DEAD_SERVER = server_toml(
    "dead", "-c", "import sys; print('no config for me', file=sys.stderr); sys.exit(3)", retry_s=600.0
)
HUNG_SERVER = server_toml("hung", "-c", "import time; time.sleep(600)", start_timeout_s=3.0, retry_s=600.0)


def issue_token(data_dir: Path, name: str, kind: str = "pc") -> str:
    store = SyncStore.in_data_dir(data_dir)
    try:
        return store.issue_token(name, kind)[1]
    finally:
        store.close()


def revoke(data_dir: Path, name: str) -> None:
    store = SyncStore.in_data_dir(data_dir)
    try:
        assert store.revoke(name) is not None
    finally:
        store.close()


def pair_code(data_dir: Path, name: str, kind: str) -> str:
    store = SyncStore.in_data_dir(data_dir)
    try:
        return store.create_pairing_code(name, kind, 600)
    finally:
        store.close()


def audit(data_dir: Path, skill: str) -> list[Any]:
    return [e for e in read_audit(agent_db_path(data_dir)) if e.skill == skill]


@asynccontextmanager
async def http_client(url: str, token: str | None, *, mode: str = "auto") -> AsyncIterator[Any]:
    """The official MCP client on Streamable HTTP with ``token`` as the bearer."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=120.0)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            yield client


@asynccontextmanager
async def device(
    hub_ws: str, data_dir: Path, state: Path, *, name: str = "phone", kind: str = "phone"
) -> AsyncIterator[DeviceSession]:
    """A paired Python device, connected."""
    session = DeviceSession(hub_ws, name=name, kind=kind, state_dir=state, pair_code=pair_code(data_dir, name, kind))
    session.start()
    try:
        await session.wait_ready(30)
        yield session
    finally:
        await session.close()


async def next_event(session: DeviceSession, type_: str, timeout: float = 60.0) -> dict[str, Any]:
    async def find() -> dict[str, Any]:
        while True:
            event = await session.events.get()
            if event.get("type") == type_:
                return dict(event)

    return await asyncio.wait_for(find(), timeout)


def text_of(result: Any) -> str:
    return "\n".join(getattr(b, "text", "") for b in result.content)


class ToolCallingEndpoint(FaultServer):
    """A scripted OpenAI-compatible endpoint: when ``tool`` is among the offered tools and
    no tool result is in the conversation yet, it calls ``tool`` with ``arguments``;
    otherwise it streams ``answer``."""

    def __init__(self, *, tool: str, arguments: dict[str, Any], answer: str) -> None:
        super().__init__(answer=answer)
        self.tool = tool
        self.arguments = arguments

    async def _respond(self, writer: asyncio.StreamWriter, fault: Any, body: dict[str, Any]) -> bool:
        offered = [t.get("function", {}).get("name") for t in body.get("tools") or []]
        answered = any(m.get("role") == "tool" for m in body.get("messages", []))
        if self.tool not in offered or answered:
            return await super()._respond(writer, fault, body)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        call = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": self.tool, "arguments": json.dumps(self.arguments)},
        }
        _event(writer, _chunk({"role": "assistant", "content": None, "tool_calls": [call]}))
        _event(writer, _chunk({}, finish="tool_calls"))
        _event(writer, "[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True
