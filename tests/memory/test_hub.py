"""The hub builds the memory store: it reports it in /health and saves its index on shutdown."""

from __future__ import annotations

import time

from tests._hub import HubProcess


def test_hub_opens_memory_in_the_background_and_closes_it(tmp_path):
    hub = HubProcess(tmp_path / "hub-data", env={"QIRA_HUB_WARM_UP": "false"})
    hub.start()
    try:
        deadline = time.monotonic() + 20
        while hub.health()["components"].get("memory", {}).get("state") != "ready":
            assert time.monotonic() < deadline, hub.health()
            time.sleep(0.05)
        assert (tmp_path / "hub-data" / "memory" / "memory.db").exists()
    finally:
        assert hub.stop() == 0
    assert (tmp_path / "hub-data" / "memory" / "index.json").exists()
