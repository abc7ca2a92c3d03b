"""The wearable adapter (real-time translation mode): microphone and earpiece, no screen.

Audio goes to the hub as binary frames tagged with a stream id
(:meth:`DeviceSession.send_audio`); ``/audio STREAM FILE`` in terminal mode
sends a file that way in 4 KiB chunks.
"""

from __future__ import annotations

from ._profiles import PROFILES
from ._terminal import AUDIO_CHUNK_BYTES, run_terminal

__all__ = ["AUDIO_CHUNK_BYTES", "KIND", "PROFILE", "run_terminal"]

KIND = "wearable"
PROFILE = PROFILES[KIND]
