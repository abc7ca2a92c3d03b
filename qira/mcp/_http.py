"""Streamable HTTP at ``/mcp`` on the hub's port (stateless), a device token as the bearer.

Each MCP client is a paired device: a revoked token is refused at the door, and the
device it names carries grants, approvals and the audit log into every call.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.routing import BaseRoute, Route

from ..devices import DeviceInfo
from ._server import ToolHost, build_server, import_sdk

__all__ = ["McpHttp"]

log = logging.getLogger("qira.mcp.http")

PATH = "/mcp"
START_WAIT_S = 30.0
_STATE_KEY = "qira_device"

Authenticate = Callable[[str], DeviceInfo | None | Awaitable[DeviceInfo | None]]


class McpHttp:
    """The route and the SDK's session manager behind it; :meth:`run` owns the manager's
    task group for the hub's lifetime. The SDK takes seconds to import, so it is loaded
    in a thread on the first request, never on the hub's start-up path (where it would
    slow the models warming up beside it); that request waits for it."""

    def __init__(self, host: ToolHost, authenticate: Authenticate, *, version: str = "") -> None:
        self._host = host
        self._version = version
        self._authenticate = authenticate
        self.manager: Any = None
        self._started = asyncio.Event()
        self._wanted = asyncio.Event()

    @property
    def routes(self) -> list[BaseRoute]:
        return [Route(PATH, endpoint=_Authenticated(self._dispatch, self._authenticate))]

    async def run(self, on_ready: Callable[[], None] | None = None, *, lazy: bool = True) -> None:
        if lazy:
            await self._wanted.wait()
        await asyncio.to_thread(import_sdk)
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

        server = build_server(self._host, _device_of_request, version=self._version)
        # Stateless (the 2026-07-28 revision's model): no session to hijack or leak, each
        # request authenticates on its own. No Host/Origin allow-list: the hub may serve
        # a LAN, and a browser cannot guess the bearer token.
        self.manager = StreamableHTTPSessionManager(app=server, stateless=True, json_response=True)
        async with self.manager.run():
            self._started.set()
            if on_ready is not None:
                on_ready()
            await asyncio.Event().wait()  # until the hub cancels it at shutdown

    async def wait_started(self) -> None:
        await self._started.wait()

    async def _dispatch(self, scope: Any, receive: Any, send: Any) -> None:
        if not self._started.is_set():
            self._wanted.set()
            try:
                await asyncio.wait_for(self._started.wait(), START_WAIT_S)
            except TimeoutError:
                await _refuse(send, 503, "unavailable", "the MCP endpoint is still starting: try again")
                return
        await self.manager.asgi_app(scope, receive, send)


async def _refuse(send: Any, status: int, error: str, message: str) -> None:
    body = json.dumps({"error": error, "message": message}).encode()
    headers = [(b"content-type", b"application/json")] + ([(b"www-authenticate", b"Bearer")] if status == 401 else [])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _device_of_request(ctx: Any) -> DeviceInfo | None:
    request = getattr(ctx, "request", None)
    state = getattr(request, "scope", {}).get("state") or {}
    device = state.get(_STATE_KEY)
    return device if isinstance(device, DeviceInfo) else None


class _Authenticated:
    """ASGI: a device token as the bearer, or 401 before the SDK sees the request."""

    def __init__(self, app: Any, authenticate: Authenticate) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        device = await self._device(scope)
        if device is None:
            await _refuse(
                send,
                401,
                "unauthorized",
                "a device token is required as the bearer (qira pair --token); this one is unknown or revoked",
            )
            return
        scope.setdefault("state", {})[_STATE_KEY] = device
        await self.app(scope, receive, send)

    async def _device(self, scope: Any) -> DeviceInfo | None:
        header = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"authorization"), "")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            return None
        found = self.authenticate(token.strip())
        if isinstance(found, Awaitable):
            found = await found
        return found
