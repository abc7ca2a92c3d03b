"""Chaos: three devices edit on- and offline while connections are cut and the hub is SIGKILLed.

Afterwards every acknowledged operation is in the hub's state exactly once, every
offline edit arrived exactly once, and every replica equals the hub's.
``QIRA_CHAOS_ROUNDS`` raises the number of rounds (each one kills the hub).
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import sqlite3
import time
from pathlib import Path

import pytest
from pycrdt import Array, Doc

from device_adapters import DeviceSession
from qira.sync import SyncStore
from tests._hub import HubProcess

ROUNDS = int(os.environ.get("QIRA_CHAOS_ROUNDS", "20"))
NAMES = ("pc", "tablet", "wearable")


def session(hub: HubProcess, state: Path, name: str, code: str | None = None) -> DeviceSession:
    return DeviceSession(
        hub.ws_url, name=name, kind=name, state_dir=state / name, pair_code=code, backoff_base_s=0.05, backoff_max_s=0.5
    )


def contents(doc: Doc) -> tuple[list, list]:
    return (doc.get("log", type=Array).to_py(), doc.get("edits", type=Array).to_py())


def hub_docs(db: Path) -> dict[str, Doc]:
    conn = sqlite3.connect(db)
    docs: dict[str, Doc] = collections.defaultdict(Doc)
    for name, data in conn.execute("SELECT doc, data FROM doc_updates ORDER BY id"):
        docs[name].apply_update(data)
    conn.close()
    return docs


@pytest.mark.slow
def test_chaos_devices_converge_and_acked_ops_apply_exactly_once(tmp_path):
    asyncio.run(_chaos(tmp_path, ROUNDS, random.Random(int(os.environ.get("QIRA_CHAOS_SEED", "7")))))


async def _chaos(tmp: Path, rounds: int, rng: random.Random) -> None:
    hub = HubProcess(
        tmp / "hub",
        env={"QIRA_HUB_WARM_UP": "false", "QIRA_SYNC_MESSAGES_PER_SECOND": "5000", "QIRA_SYNC_BURST": "5000"},
    ).start()
    store = SyncStore(hub.data_dir / "sync.db")
    sessions = {n: session(hub, tmp, n, store.create_pairing_code(n, n, 600)) for n in NAMES}
    store.close()
    for s in sessions.values():
        s.start()
    for s in sessions.values():
        await s.wait_ready()
    offline: set[str] = set()
    submitted: list[str] = []
    acked: set[str] = set()
    edits: list[str] = []
    kills = 0
    try:
        for r in range(rounds):
            for name in NAMES:
                s = sessions[name]
                for i in range(4):
                    value = f"{name}:op:{r}:{i}"
                    future = s.submit("state.append", {"doc": "threads", "key": "log", "value": value})
                    future.add_done_callback(
                        lambda f, v=value: acked.add(v) if not f.cancelled() and f.result().ok else None
                    )
                    submitted.append(value)
                s.docs["threads"].get("edits", type=Array).append(f"{name}:edit:{r}")
                edits.append(f"{name}:edit:{r}")
            await asyncio.sleep(rng.uniform(0.0, 0.15))
            # Cut one device's connection, or take one offline for the next round.
            victim = rng.choice(NAMES)
            if rng.random() < 0.5:
                sessions[victim].drop()
            elif victim not in offline:
                await sessions[victim].close()
                sessions[victim] = session(hub, tmp, victim)  # not started: edits and ops stay local
                offline.add(victim)
            hub.kill()
            kills += 1
            for name in NAMES:  # edits while the hub is down
                sessions[name].docs["threads"].get("edits", type=Array).append(f"{name}:down:{r}")
                edits.append(f"{name}:down:{r}")
            hub.start()
            for name in list(offline):
                if rng.random() < 0.6:
                    sessions[name].start()
                    offline.discard(name)
        for name in offline:
            sessions[name].start()
        deadline = time.monotonic() + 60
        for s in sessions.values():
            await s.wait_idle(max(1.0, deadline - time.monotonic()))
        store = SyncStore(hub.data_dir / "sync.db")
        code = store.create_pairing_code("observer", "pc", 600)
        store.close()
        observer = session(hub, tmp, "observer", code)
        observer.start()
        await observer.wait_synced(20)
        while time.monotonic() < deadline:  # replicas converge once every step-2 exchange has landed
            want = contents(observer.docs["threads"])
            if all(contents(s.docs["threads"]) == want for s in sessions.values()):
                break
            await asyncio.sleep(0.1)
        log, edited = contents(observer.docs["threads"])
        counts = collections.Counter(log)
        assert sorted(counts) == sorted(submitted), "every submitted operation was applied"
        assert all(c == 1 for c in counts.values()), [v for v, c in counts.items() if c > 1]
        assert acked <= set(counts)
        assert sorted(edited) == sorted(edits), "every offline and online edit arrived exactly once"
        for name, s in sessions.items():
            assert contents(s.docs["threads"]) == (log, edited), f"{name}'s replica differs from the hub's"
        await observer.close()
    finally:
        for s in sessions.values():
            await s.close()
        hub.stop()
    assert kills >= min(rounds, 20)
    persisted = hub_docs(hub.data_dir / "sync.db")["threads"]
    assert contents(persisted) == (log, edited), "the hub's sync.db holds the converged state"
