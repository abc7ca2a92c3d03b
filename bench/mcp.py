"""MCP both ways, measured side by side in one run.

    python bench/mcp.py --out bench/results/mcp.json [--calls 300] [--quick]

1. Qira as an MCP server: a tool call from the official ``mcp`` client through
   Streamable HTTP at ``/mcp`` (served by uvicorn on 127.0.0.1, the hub's route and
   bearer check) vs the same skill called in-process through the agent
   (``Agent.call_skill``: the same grants, runner and audit). Skill: ``time_now``.
   For scale, the same client against a bare SDK server with a no-op tool on the
   same HTTP stack: what any MCP server costs here (client and server SDK, HTTP,
   JSON-RPC; client and server share this process), and what is left for Qira.
2. An MCP server's tool through Qira: ``mcp-server-time``'s ``get_current_time``
   called as the skill ``time.get_current_time`` (grants, timeout, audit) vs the
   ``mcp`` client calling the same server directly (its own process, same tool).

Calls alternate between the two paths so machine load hits both alike. Overhead is
reported as p50/p99 differences; the target is <= 2 ms or <= 10%, whichever larger.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# This file is named like the SDK: keep bench/ off the path so `import mcp` finds the SDK.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench._report import emit  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": round(statistics.median(values), 3), "p99_ms": round(pct(values, 0.99), 3)}


def compare(name: str, base: list[float], via: list[float]) -> dict[str, Any]:
    b, v = summary(base), summary(via)
    over50, over99 = v["p50_ms"] - b["p50_ms"], v["p99_ms"] - b["p99_ms"]
    allowed = max(2.0, 0.10 * b["p50_ms"])
    return {
        "what": name,
        "baseline": b,
        "through": v,
        "overhead_p50_ms": round(over50, 3),
        "overhead_p99_ms": round(over99, 3),
        "ratio_p50": round(v["p50_ms"] / b["p50_ms"], 3),
        "target_p50_overhead_ms": round(allowed, 3),
        "meets_target": over50 <= allowed,
    }


async def timed(fn: Any) -> float:
    started = time.perf_counter()
    await fn()
    return (time.perf_counter() - started) * 1000


def bare_sdk_server() -> Any:
    """The SDK's floor: a bare low-level server whose one tool answers at once."""
    import mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool(name="noop", input_schema={"type": "object"})])

    async def call_tool(ctx: Any, params: Any) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(text="ok")])

    server = Server(
        "bare", on_list_tools=list_tools, on_call_tool=call_tool, get_tool_input_schema=lambda name: {"type": "object"}
    )
    return StreamableHTTPSessionManager(app=server, stateless=True, json_response=True)


async def bench_server(calls: int, data: Path) -> dict[str, Any]:
    """Qira's /mcp vs Agent.call_skill in-process, one agent behind both; and the same
    client against a bare SDK server on the same HTTP stack (the MCP floor)."""
    import httpx2
    import uvicorn
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from starlette.applications import Starlette
    from starlette.routing import Route

    from qira.agent import Agent
    from qira.config import AgentConfig, SkillsConfig
    from qira.devices import DeviceInfo, DeviceKind
    from qira.hub import bind_socket
    from qira.mcp import AgentTools, McpHttp

    agent = Agent(config=AgentConfig(), skills=SkillsConfig(), data_dir=data, embedder=None)
    device = DeviceInfo(id="dev_bench", name="bench", kind=DeviceKind.PC)
    token = "bench-token"
    http = McpHttp(AgentTools(agent), lambda t: device if t == token else None)
    bare = bare_sdk_server()
    sock = bind_socket("127.0.0.1", 0)  # the hub's own listener (TCP_NODELAY: no delayed-ACK stalls)
    port = sock.getsockname()[1]
    app = Starlette(routes=[*http.routes, Route("/bare", endpoint=bare.asgi_app)])
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))

    async def run_bare() -> None:
        async with bare.run():
            await asyncio.Event().wait()

    managers = [asyncio.ensure_future(http.run(lazy=False)), asyncio.ensure_future(run_bare())]
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    await http.wait_started()
    while not server.started:
        await asyncio.sleep(0.01)
    in_process, over_mcp, floor = [], [], []
    base = f"http://127.0.0.1:{port}"
    try:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client_http,
            Client(streamable_http_client(base + "/mcp", http_client=client_http)) as c,
            Client(streamable_http_client(base + "/bare", http_client=client_http)) as b,
        ):

            async def direct() -> None:
                step = await agent.call_skill(device, "time_now", {}, via="bench")
                assert step.outcome.value == "ok", step.text

            async def via_mcp() -> None:
                result = await c.call_tool("time_now", {})
                assert not result.is_error

            async def bare_call() -> None:
                result = await b.call_tool("noop", {})
                assert not result.is_error

            for _ in range(10):  # warm every path
                await direct()
                await via_mcp()
                await bare_call()
            for _ in range(calls):
                in_process.append(await timed(direct))
                over_mcp.append(await timed(via_mcp))
                floor.append(await timed(bare_call))
    finally:
        server.should_exit = True
        await serving
        for task in managers:
            task.cancel()
        await asyncio.gather(*managers, return_exceptions=True)
        await agent.stop()
    out = compare(
        "tool call through Qira's MCP server (/mcp, official client) vs the same skill in-process", in_process, over_mcp
    )
    # What any MCP server costs on this stack (client and server SDK, HTTP, JSON-RPC, in this one
    # process), and what is left for Qira's own layer (bearer check, tool lookup, result shaping).
    out["sdk_floor_bare_server"] = summary(floor)
    out["qira_layer_p50_ms"] = round(out["overhead_p50_ms"] - summary(floor)["p50_ms"], 3)
    return out


async def bench_client(calls: int, data: Path) -> dict[str, Any]:
    """mcp-server-time's tool as a Qira skill vs the mcp client calling the server directly."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    from qira.agent import Agent
    from qira.config import AgentConfig, McpServerConfig, SkillsConfig
    from qira.devices import DeviceInfo, DeviceKind
    from qira.mcp import McpServers

    args = ["-m", "mcp_server_time", "--local-timezone", "UTC"]
    agent = Agent(config=AgentConfig(), skills=SkillsConfig(), data_dir=data, embedder=None)
    device = DeviceInfo(id="dev_bench", name="bench", kind=DeviceKind.PC)
    servers = McpServers({"time": McpServerConfig(command=sys.executable, args=args)}, agent, log_dir=data / "logs")
    await servers.start()
    await servers.wait_settled(60)
    assert "time.get_current_time" in agent.registry, servers.statuses()
    through, direct_ms = [], []
    arguments = {"timezone": "Europe/Lisbon"}
    try:
        with open(os.devnull, "w") as quiet:
            from mcp.client.stdio import stdio_client

            async with Client(
                stdio_client(StdioServerParameters(command=sys.executable, args=args), errlog=quiet)
            ) as client:

                async def direct() -> None:
                    result = await client.call_tool("get_current_time", arguments)
                    assert not result.is_error

                async def via_qira() -> None:
                    step = await agent.call_skill(device, "time.get_current_time", arguments, via="bench")
                    assert step.outcome.value == "ok", step.text

                for _ in range(10):
                    await direct()
                    await via_qira()
                for _ in range(calls):
                    direct_ms.append(await timed(direct))
                    through.append(await timed(via_qira))
    finally:
        await servers.stop()
        await agent.stop()
    return compare(
        "mcp-server-time's tool as the skill time.get_current_time (grants, timeout, audit) "
        "vs the mcp client calling the server directly",
        direct_ms,
        through,
    )


async def main(calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = await bench_server(calls, Path(tmp) / "server")
        client = await bench_client(calls, Path(tmp) / "client")
    return {
        "benchmark": "mcp",
        "calls_per_path": calls,
        "qira_as_mcp_server": server,
        "mcp_server_as_skill": client,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the JSON figures here")
    parser.add_argument("--calls", type=int, default=300, help="calls per path (default 300)")
    parser.add_argument("--quick", action="store_true", help="30 calls per path")
    opts = parser.parse_args()
    emit(asyncio.run(main(30 if opts.quick else opts.calls)), opts.out)
