"""An MCP server that dies in the middle of its work: the call fails cleanly, its tools
are detached with the reason, and the supervisor starts it again."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time

from qira.config import McpServerConfig
from qira.devices import DeviceInfo, DeviceKind
from qira.mcp import McpServers, ServerState

FRAGILE = textwrap.dedent("""
    import os, sys
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("fragile")

    @server.tool(description="Answer politely", annotations={"readOnlyHint": True})
    def hello(name: str) -> str:
        return f"hello {name}"

    @server.tool(description="Crash the server")
    def crash() -> str:
        print("crashing on purpose", file=sys.stderr, flush=True)
        os._exit(7)

    server.run()
""")


def test_a_crashing_server_fails_the_call_detaches_its_tools_and_comes_back(tmp_path):
    from qira.agent import Agent
    from qira.config import AgentConfig, SkillsConfig

    script = tmp_path / "fragile.py"
    script.write_text(FRAGILE)
    agent = Agent(
        config=AgentConfig(skill_timeout_s=30), skills=SkillsConfig(), data_dir=tmp_path / "data", embedder=None
    )
    me = DeviceInfo(id="dev_test", name="test", kind=DeviceKind.PC)
    config = McpServerConfig(command=sys.executable, args=[str(script)], retry_s=1.0, start_timeout_s=60)
    seen: list[tuple[str, str]] = []
    servers = McpServers(
        {"fragile": config},
        agent,
        log_dir=tmp_path / "logs",
        on_status=lambda s: seen.append((s.state.value, s.reason)),
    )

    async def until(predicate, what: str) -> None:
        deadline = time.monotonic() + 90
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {seen}"
            await asyncio.sleep(0.05)

    async def run() -> None:
        await servers.start()
        try:
            await until(lambda: "fragile.hello" in agent.registry, "the tools")
            assert agent.registry.get("fragile.hello").risk.value == "low"
            assert agent.registry.get("fragile.crash").risk.value == "high"  # no annotations: high
            ok = await agent.call_skill(me, "fragile.hello", {"name": "Ana"})
            assert ok.outcome.value == "ok" and ok.text == "hello Ana"
            # call the crash through the runner directly: a direct call of a high-risk skill would wait for approval
            broken = await agent.runner.run(
                {"skill": "fragile.crash", "arguments": {}}, device=me, thread="t", turn="t", text="crash"
            )
            assert broken.outcome.value == "error" and "fragile" in broken.text
            await until(lambda: "fragile.hello" not in agent.registry, "the tools to be detached")
            status = servers.statuses()[0]
            assert status.state is ServerState.ERROR and "crashing on purpose" in status.reason
            await until(lambda: "fragile.hello" in agent.registry, "the restart")
            again = await agent.call_skill(me, "fragile.hello", {"name": "Bo"})
            assert again.text == "hello Bo"
        finally:
            await servers.stop()
            await agent.stop()

    asyncio.run(run())
    assert [state for state, _ in seen].count("ready") == 2
