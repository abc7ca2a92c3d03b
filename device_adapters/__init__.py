"""Device adapters: the shared client session and one adapter per device kind.

Adapters use only the protocol (``qira.sync.protocol`` and ``docs/protocol.md``),
never hub internals.
"""

from ._profiles import PROFILES
from .session import DeviceSession, OpReply, SessionEvent

__all__ = ["PROFILES", "DeviceSession", "OpReply", "SessionEvent"]
