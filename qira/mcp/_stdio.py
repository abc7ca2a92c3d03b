"""``qira mcp``: Qira's skills to an MCP client over stdio (Claude Desktop and the like).

With a hub running it is a thin bridge to the hub's ``/mcp`` (so approvals reach the
person's connected devices and MCP servers configured on the hub are there); with
none, the skills run in this process. Either way the client acts as a paired device:
``--name`` creates one on first use and keeps its token in ``<data dir>/mcp/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import Config, ensure_data_dir
from ..devices import DeviceInfo, DeviceKind
from ..errors import QiraError
from ._server import AgentTools, build_server, memory_search

__all__ = ["RemoteTools", "device_token", "hub_url", "serve_stdio"]

log = logging.getLogger("qira.mcp.stdio")

TOKEN_DIR = "mcp"
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
ATTEMPTS = 6


def device_token(data_dir: Path, name: str) -> str:
    """This MCP client's device token: made (and the device paired) on first use, then read back."""
    from ..sync import SyncStore

    if not _NAME.match(name):  # it names a file too
        raise QiraError(f"--name {name!r}: use letters, digits, '.', '_' and '-' (up to 64), not starting with '.'")
    path = data_dir / TOKEN_DIR / f"{name}.token"
    if path.is_file():
        return path.read_text().strip()
    store = SyncStore.in_data_dir(data_dir)
    try:
        _, token = store.issue_token(name, DeviceKind.PC.value)
    except ValueError as exc:
        raise QiraError(f"{exc} (or pass its token with --token)") from exc
    finally:
        store.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token


def hub_url(config: Config, timeout: float = 1.0) -> str | None:
    """The running hub's base URL, or None when no hub answers on the configured port."""
    import httpx

    host = config.hub.host if config.hub.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    base = f"http://[{host}]:{config.hub.port}" if ":" in host else f"http://{host}:{config.hub.port}"
    try:
        response = httpx.get(base + "/health", timeout=timeout)
        body = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    return base if response.status_code == 200 and isinstance(body, dict) and "components" in body else None


class RemoteTools:
    """A hub's ``/mcp`` through the official client (the bridge's ToolHost)."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self._client: Any = None
        self._schemas: dict[str, Mapping[str, Any]] = {}

    async def open(self, stack: contextlib.AsyncExitStack) -> None:
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        http = await stack.enter_async_context(
            httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {self.token}"}, timeout=httpx2.Timeout(30.0, read=600.0)
            )
        )
        for attempt in range(ATTEMPTS):
            try:
                self._client = await stack.enter_async_context(
                    Client(streamable_http_client(self.url, http_client=http))
                )
                return
            except Exception as exc:  # the SDK wraps an HTTP 401 in its task groups
                if attempt == ATTEMPTS - 1:
                    raise QiraError(
                        f"the hub at {self.url} refused this MCP client (token unknown or revoked?): {_first(exc)}"
                    ) from exc
                # a token issued a moment ago reaches the running hub within its next poll (0.5 s)
                await asyncio.sleep(0.5)

    async def list_tools(self, device: DeviceInfo) -> list[dict[str, Any]]:
        result = await self._client.list_tools()
        tools = [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in result.tools]
        self._schemas = {t["name"]: t.get("inputSchema") or {} for t in tools}
        return tools

    def input_schema(self, name: str) -> Mapping[str, Any] | None:
        return self._schemas.get(name)

    async def call_tool(self, device: DeviceInfo, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        from mcp.shared.exceptions import MCPError

        try:
            result = await self._client.call_tool(name, dict(arguments))
        except MCPError as exc:
            return {"content": [{"type": "text", "text": exc.error.message}], "isError": True}
        return result.model_dump(by_alias=True, mode="json", exclude_none=True)


def _first(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def serve_stdio(config: Config, *, name: str, token: str | None = None, local: bool = False) -> int:
    """Serve until the client closes stdin."""
    return asyncio.run(_serve(config, name=name, token=token, local=local))


async def _serve(config: Config, *, name: str, token: str | None, local: bool) -> int:
    from mcp.server.stdio import stdio_server

    data_dir = ensure_data_dir(config)
    token = token or device_token(data_dir, name)
    base = None if local else await asyncio.to_thread(hub_url, config)
    async with contextlib.AsyncExitStack() as stack:
        if base is not None:
            remote = RemoteTools(base + "/mcp", token)
            await remote.open(stack)
            # the hub knows who this is from the token; the bridge needs no identity of its own
            device = DeviceInfo(id="bridge", name=name, kind=DeviceKind.PC)
            host: Any = remote
            log.info("serving through the hub at %s", base)
        else:
            device, host = await _in_process(config, data_dir, token, stack)
            log.info("no hub running: serving in-process as %s", device.name)
        from .. import __version__

        server = build_server(host, lambda _ctx: device, version=__version__)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
    return 0


async def _in_process(
    config: Config, data_dir: Path, token: str, stack: contextlib.AsyncExitStack
) -> tuple[DeviceInfo, AgentTools]:
    from .._hublock import HubLock
    from ..agent import Agent
    from ..memory import Embedder, MemoryStore
    from ..sync import SyncStore

    # no hub is running: this process owns the data directory until it exits, as a hub
    # would (one that starts meanwhile is refused, rather than both writing memory)
    lock = HubLock(data_dir)
    lock.acquire()
    stack.callback(lock.release)
    from ._servers import McpServers

    store = SyncStore.in_data_dir(data_dir)
    try:
        row = store.device_for_token(token)
    finally:
        store.close()
    if row is None:
        raise QiraError("this MCP client's token is unknown or revoked (qira devices; pair it again with --name)")
    device = DeviceInfo(id=row.id, name=row.name, kind=DeviceKind(row.kind))
    embedder = Embedder(batch_size=config.memory.embed_batch_size)
    memory = MemoryStore(data_dir / "memory", config.memory, embedder)
    await memory.open()
    stack.push_async_callback(memory.close)
    warming = asyncio.ensure_future(asyncio.to_thread(embedder.load))  # memory_search needs it; start now
    stack.callback(warming.cancel)
    agent = Agent(config=config.agent, skills=config.skills, data_dir=data_dir, embedder=embedder, memory=memory)
    stack.push_async_callback(agent.stop)
    await agent.add_skills([memory_search], source="qira.mcp")
    if config.mcp.servers:
        servers = McpServers(config.mcp.servers, agent, log_dir=data_dir / TOKEN_DIR / "logs")
        await servers.start()
        stack.push_async_callback(servers.stop)
        await servers.wait_settled(max(s.start_timeout_s for s in config.mcp.servers.values()) + 1)
    return device, AgentTools(agent)
