"""Cross-device sync: the protocol core, the hub's server, pairing and shared CRDT state.

``docs/protocol.md`` is the contract. The hub builds a :class:`SyncServer`;
devices use :mod:`device_adapters`, which imports :mod:`qira.sync.protocol` too.
"""

from ._store import SyncStore
from ._wire import DOC_NAMES, PROTOCOL_VERSION, CloseCode, ErrorCode
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
