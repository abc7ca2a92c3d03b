"""What each kind of device can do: sent in hello as its capabilities."""

from __future__ import annotations

from typing import Any

__all__ = ["PROFILES"]

PROFILES: dict[str, dict[str, Any]] = {
    # The PC the hub usually runs on: big screen, speakers, a mic, mains power, can run the local model.
    "pc": {"screen": True, "audio_in": True, "audio_out": True, "battery": None, "runs_model": True, "worn": False},
    # Phone and tablet companions: screen and audio, on battery, no local model.
    "phone": {"screen": True, "audio_in": True, "audio_out": True, "battery": 1.0, "runs_model": False, "worn": False},
    "tablet": {"screen": True, "audio_in": True, "audio_out": True, "battery": 1.0, "runs_model": False, "worn": False},
    # A wearable in translation mode: microphone and earpiece, no screen, never runs a model.
    "wearable": {
        "screen": False,
        "audio_in": True,
        "audio_out": True,
        "battery": 1.0,
        "runs_model": False,
        "worn": True,
    },
}
