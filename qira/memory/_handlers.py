"""Wire handlers: what a device may ask of the memory (``memory.*``, ``context.event``).

Each handler takes the authenticated device and the message payload and
returns the ``result`` payload, or raises :class:`ProtocolError` with a stable
code. Private memories never leave the hub: search and list run with
``visible_to=<device>``, which hides them and other devices' device-scope
memories; forgetting one of those answers ``not_found``, as if it did not exist.
Documented in ``docs/protocol.md`` ("Memory messages").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..devices import DeviceInfo, MessageHandler
from ..errors import InvalidMemory, MemoryNotFound, MemoryStoreError, ProtocolError
from ._store import MemoryStore
from ._types import Memory, Scope, SearchHit, memory_json

__all__ = ["memory_handlers", "memory_json"]

_Impl = Callable[[MemoryStore, DeviceInfo, Mapping[str, Any]], Awaitable[Mapping[str, Any]]]


def _hit_json(hit: SearchHit) -> dict[str, Any]:
    return {"memory": memory_json(hit.memory), "score": hit.score, "explanation": dict(hit.explanation)}


def _fields(payload: Mapping[str, Any], required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(payload, Mapping):
        raise ProtocolError("payload must be an object", code="invalid_params")
    unknown = set(payload) - required - optional
    if unknown:
        raise ProtocolError(f"unknown field(s): {', '.join(sorted(unknown))}", code="invalid_params")
    missing = required - set(payload)
    if missing:
        raise ProtocolError(f"missing field(s): {', '.join(sorted(missing))}", code="invalid_params")
    return {k: v for k, v in payload.items() if v is not None}


async def _add(store: MemoryStore, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    args = _fields(payload, {"text"}, {"kind", "scope", "importance", "expires_at"})
    result = await store.add(args.pop("text"), device=device.id, actor=device.id, **args)
    return {
        "id": result.memory.id,
        "action": result.action,
        "memory": memory_json(result.memory),
        "chunks": [m.id for m in result.chunks],
        "note": result.note,
    }


async def _search(store: MemoryStore, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    args = _fields(payload, {"query"}, {"k", "kinds", "scopes", "since", "until"})
    hits = await store.search(args.pop("query"), visible_to=device.id, **args)
    return {"hits": [_hit_json(h) for h in hits]}


async def _forget(store: MemoryStore, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    # "memory_id", not "id": the envelope owns "id" (the request id).
    args = _fields(payload, {"memory_id"}, set())
    memory = await store.get(args["memory_id"])
    if not _visible(memory, device):
        raise MemoryNotFound(f"no memory with id {args['memory_id']!r}")
    await store.forget(memory.id, actor=device.id)
    return {"memory_id": memory.id, "forgotten": True}


async def _list(store: MemoryStore, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    args = _fields(payload, set(), {"kind", "scope", "limit", "offset"})
    memories = await store.list(visible_to=device.id, **args)
    return {"memories": [memory_json(m) for m in memories]}


async def _context(store: MemoryStore, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    args = _fields(payload, {"kind", "value"}, set())
    result = await store.add_context(args["kind"], args["value"], device=device.id)
    return {"id": result.memory.id, "action": result.action, "scope": result.memory.scope.value}


def _visible(memory: Memory, device: DeviceInfo) -> bool:
    return memory.scope is Scope.SHARED or (memory.scope is Scope.DEVICE and memory.device == device.id)


def _wrap(store: MemoryStore, impl: _Impl) -> MessageHandler:
    async def handler(device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        try:
            return await impl(store, device, payload)
        except InvalidMemory as exc:
            raise ProtocolError(str(exc), code="invalid_params") from exc
        except MemoryNotFound as exc:
            raise ProtocolError(str(exc), code="not_found") from exc
        except MemoryStoreError as exc:
            raise ProtocolError(f"the memory store failed: {exc}", code="memory_unavailable") from exc

    handler.__qualname__ = f"memory_handler[{impl.__name__.lstrip('_')}]"
    return handler


def memory_handlers(store: MemoryStore) -> dict[str, MessageHandler]:
    """``{message type: handler}`` for the sync server's ``register_handler``."""
    return {
        "memory.add": _wrap(store, _add),
        "memory.search": _wrap(store, _search),
        "memory.forget": _wrap(store, _forget),
        "memory.list": _wrap(store, _list),
        "context.event": _wrap(store, _context),
    }
