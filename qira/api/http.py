"""The hub's HTTP routes. WebSocket routes come from the sync layer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from .. import __version__
from ..health import Health

__all__ = ["COMPANION_DIR", "build_app"]

# The companion web app, built from device_adapters/companion/web (see its build.mjs)
# and shipped in the package, so a hub serves it without Node.
COMPANION_DIR = Path(__file__).parent / "static" / "companion"


def build_app(health: Health, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    async def get_health(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "ready": health.all_ready,
                "components": health.as_json(),
            }
        )

    # The companion last: it answers only the paths no other route claims.
    shell = Mount("/", app=_Companion(COMPANION_DIR))
    return Starlette(routes=[Route("/health", get_health, methods=["GET"]), *extra_routes, shell])


class _Companion:
    """The companion's static files at "/", revalidated on every load (ETag) so a new
    build reaches browsers at once; a WebSocket to an unknown path is refused as before."""

    def __init__(self, directory: Path) -> None:
        self.files = StaticFiles(directory=directory, html=True, check_dir=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await WebSocketClose()(scope, receive, send)
            return

        async def send_no_cache(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"cache-control", b"no-cache")]
            await send(message)

        await self.files(scope, receive, send_no_cache)
