"""The hub-local admin path: the ``qira`` CLI asks the running hub instead of
opening its stores itself (``memory add`` would otherwise load the embedding
model in every shell command).

``POST /admin/v1`` with ``{"op": "memory.add", "args": {...}}`` answers
``{"ok": true, "result": ...}`` or ``{"ok": false, "code": ..., "message": ...}``.
Only the local user who can read the data directory may use it: the request
must come from a loopback address and carry the secret that ``qira serve``
wrote to ``<data dir>/hub.json`` (mode 0600). It is not part of the device
protocol: devices never see it.

The operations are plain functions over the stores, so the CLI runs the very
same code in-process when no hub is running.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import QiraError

__all__ = [
    "ADMIN_PATH",
    "AdminOp",
    "admin_routes",
    "audit_op",
    "devices_op",
    "memory_op",
    "pair_op",
    "revoke_op",
]

ADMIN_PATH = "/admin/v1"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}

log = logging.getLogger("qira.admin")

AdminOp = Callable[[Mapping[str, Any]], Awaitable[Any]]


def admin_routes(secret: str, ops: Mapping[str, AdminOp]) -> list[Any]:
    """Starlette routes (imported here: the CLI uses the operations below without a web stack)."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    expected = f"Bearer {secret}".encode()

    async def endpoint(request: Request) -> JSONResponse:
        client = request.client.host if request.client else ""
        if client not in _LOOPBACK:
            return _error(403, "forbidden", "the admin path answers only this machine")
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return _error(401, "unauthorized", "wrong or missing admin secret (read it from <data dir>/hub.json)")
        try:
            body = json.loads(await request.body())
            op, args = body["op"], body.get("args") or {}
            if not isinstance(op, str) or not isinstance(args, dict):
                raise TypeError("op must be a string and args an object")
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, "bad_request", f"expected {{'op': ..., 'args': {{...}}}}: {exc}")
        handler = ops.get(op)
        if handler is None:
            return _error(404, "unknown_op", f"no admin operation {op!r}")
        try:
            result = await handler(args)
        except QiraError as exc:
            return _error(400, type(exc).__name__, str(exc))
        except (ValueError, TypeError) as exc:
            return _error(400, "invalid_params", str(exc))
        except Exception as exc:  # the CLI gets one line; the hub keeps serving
            log.exception("admin operation %s failed", op)
            return _error(500, "internal_error", f"{type(exc).__name__}: {exc}")
        return JSONResponse({"ok": True, "result": result})

    return [Route(ADMIN_PATH, endpoint, methods=["POST"])]


def _error(status: int, code: str, message: str) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse({"ok": False, "code": code, "message": message}, status_code=status)


# -- operations (hub and CLI run the same ones) ---------------------------------


async def memory_op(store: Any, verb: str, a: Mapping[str, Any]) -> dict[str, Any]:
    """One ``qira memory`` verb on a :class:`qira.memory.MemoryStore`; the result is JSON."""
    from ..memory import memory_json

    actor = "cli"
    if verb == "add":
        result = await store.add(
            str(a["text"]),
            kind=a.get("kind") or "fact",
            scope=a.get("scope") or "shared",
            device=a.get("device"),
            importance=float(a.get("importance", 0.5)),
            expires_at=a.get("expires_at"),
            actor=actor,
        )
        return {
            "id": result.memory.id,
            "action": result.action,
            "chunks": [m.id for m in result.chunks],
            "note": result.note,
            "memory": memory_json(result.memory),
        }
    if verb == "search":
        hits = await store.search(
            str(a["query"]),
            k=int(a.get("k", 5)),
            kinds=a.get("kinds"),
            scopes=a.get("scopes"),
            device=a.get("device"),
            since=a.get("since"),
            until=a.get("until"),
        )
        return {
            "hits": [
                {
                    "rank": rank,
                    "score": hit.score,
                    "memory": memory_json(hit.memory),
                    "explanation": dict(hit.explanation),
                }
                for rank, hit in enumerate(hits, 1)
            ]
        }
    if verb == "forget":
        await store.forget(str(a["id"]), actor=actor)
        return {"id": a["id"], "forgotten": True}
    if verb == "list":
        memories = await store.list(
            kind=a.get("kind"),
            scope=a.get("scope"),
            device=a.get("device"),
            limit=int(a.get("limit", 50)),
            offset=int(a.get("offset", 0)),
        )
        return {"memories": [memory_json(m) for m in memories]}
    if verb == "history":
        return {
            "entries": [
                {
                    "memory_id": e.memory_id,
                    "seq": e.seq,
                    "at": e.at,
                    "op": e.op,
                    "actor": e.actor,
                    "text": e.text,
                    "changes": dict(e.changes),
                }
                for e in await store.history(str(a["id"]))
            ]
        }
    if verb == "export":
        return {"records": await store.export()}
    if verb == "import":
        return dict(await store.import_records(list(a.get("records") or []), actor=actor))
    if verb == "context":
        result = await store.add_context(str(a["kind"]), str(a["value"]), device=a.get("device"))
        return {
            "id": result.memory.id,
            "action": result.action,
            "scope": result.memory.scope.value,
            "text": result.memory.text,
        }
    raise ValueError(f"unknown memory verb {verb!r}")


def devices_op(store: Any, live: list[Any] | None = None) -> dict[str, Any]:
    """Paired devices. ``live`` (the hub's own view) knows who is online right now."""
    rows = live if live is not None else store.devices()
    return {
        "devices": [
            {
                "id": d.id,
                "name": d.name,
                "kind": str(getattr(d.kind, "value", d.kind)),
                "online": bool(d.online),
                "last_seen": d.last_seen,
                "last_active": d.last_active,
                "capabilities": dict(d.capabilities),
            }
            for d in rows
        ]
    }


def revoke_op(store: Any, name: str) -> dict[str, Any]:
    device = store.revoke(name)
    if device is None:
        raise QiraError(f"no paired device named {name!r} (see `qira devices list`)")
    return {"id": device.id, "name": device.name, "kind": device.kind}


def pair_op(store: Any, name: str, kind: str, *, token: bool, ttl_s: float) -> dict[str, Any]:
    try:
        if token:
            _, secret = store.issue_token(name, kind)
            return {"token": secret, "name": name, "kind": kind}
        return {"code": store.create_pairing_code(name, kind, ttl_s), "name": name, "kind": kind, "ttl_s": ttl_s}
    except ValueError as exc:
        raise QiraError(str(exc)) from exc


def audit_op(path: Path, a: Mapping[str, Any]) -> dict[str, Any]:
    from ..agent import read_audit

    entries = read_audit(
        path,
        skill=a.get("skill"),
        device=a.get("device"),
        outcome=a.get("outcome"),
        since=a.get("since"),
        limit=int(a.get("limit", 50)),
    )
    return {"entries": [e.as_json() for e in entries], "log_exists": path.exists()}
