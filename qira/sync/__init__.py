"""Cross-device sync: the protocol core, the hub's server, pairing and shared CRDT state.

``docs/protocol.md`` is the contract. The hub builds a :class:`SyncServer`;
devices use :mod:`device_adapters`, which imports :mod:`qira.sync.protocol` too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._store import SyncStore
from ._wire import DOC_NAMES, PROTOCOL_VERSION, CloseCode, ErrorCode

if TYPE_CHECKING:
    from .server import AudioHandler, PresenceCallback, SyncServer

__all__ = [
    "DOC_NAMES",
    "PROTOCOL_VERSION",
    "AudioHandler",
    "CloseCode",
    "ErrorCode",
    "PresenceCallback",
    "SyncServer",
    "SyncStore",
]


def __getattr__(name: str) -> Any:
    # The hub's server (starlette, pydantic, the shared documents) is imported only when
    # asked for: devices import this package for the protocol core and would pay ~11 MB.
    if name in ("AudioHandler", "PresenceCallback", "SyncServer"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
