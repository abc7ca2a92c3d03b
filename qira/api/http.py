"""The hub's HTTP routes. WebSocket routes come from the sync layer."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .. import __version__
from ..health import Health

__all__ = ["build_app"]


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

    return Starlette(routes=[Route("/health", get_health, methods=["GET"]), *extra_routes])
