"""Durability: the index is derived and rebuilt; acknowledged writes survive kill -9; other processes' writes are seen."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}


def index_agrees_with_sqlite(store) -> bool:
    vids = {r[0] for r in store._db.conn.execute("SELECT vid FROM memories")}
    index = store._index.index
    import faiss

    if isinstance(index, faiss.IndexIDMap2) or hasattr(index, "id_map"):
        indexed = set(faiss.vector_to_array(index.id_map).tolist())
    else:
        invlists = index.invlists
        indexed = set()
        for lst in range(index.nlist):
            n = invlists.list_size(lst)
            if n:
                indexed |= set(faiss.rev_swig_ptr(invlists.get_ids(lst), n).tolist())
    return indexed == vids and store._index.size == len(vids)


async def test_index_is_saved_loaded_and_rebuilt_when_missing_or_corrupt(open_store, tmp_path):
    directory = tmp_path / "memory"
    store = await open_store(directory)
    added = [await store.add(t) for t in ["I water the ferns on Sundays", "My car is a grey Skoda", "I sleep at 23:00"]]
    await store.close()
    assert (directory / "index.faiss").exists()

    store = await open_store(directory)
    assert store.index_status == "loaded" and index_agrees_with_sqlite(store)
    await store.close()

    (directory / "index.faiss").unlink()
    store = await open_store(directory)
    assert store.index_status == "rebuilt" and index_agrees_with_sqlite(store)
    await store.close()

    (directory / "index.faiss").write_bytes(b"not a faiss index at all")
    store = await open_store(directory)
    assert store.index_status == "rebuilt"
    hits = await store.search("what car do I drive?", k=1)
    assert hits[0].memory.id == added[1].memory.id
    await store.close()


async def test_stale_index_catches_up_from_sqlite(open_store, tmp_path):
    directory = tmp_path / "memory"
    store = await open_store(directory)
    await store.add("The recycling goes out on Wednesday")
    await store.close()  # index saved at this point
    meta = json.loads((directory / "index.json").read_text())

    other = await open_store(directory)
    late = await other.add("The compost goes out on Friday")
    await other.forget((await other.list())[-1].id)
    other._index.save = lambda: None  # dies without saving its index
    await other.close()
    assert json.loads((directory / "index.json").read_text()) == meta

    store = await open_store(directory)
    assert store.index_status == "loaded" and index_agrees_with_sqlite(store)
    assert [h.memory.id for h in await store.search("compost day", k=5)] == [late.memory.id]
    await store.close()


async def test_changes_by_another_connection_are_seen_before_searching(open_store, tmp_path):
    directory = tmp_path / "memory"
    hub = await open_store(directory)
    cli = await open_store(directory)
    added = await cli.add("The plumber is coming on the 14th")
    assert [h.memory.id for h in await hub.search("when is the plumber coming?", k=1)] == [added.memory.id]
    # ... and dedup in the first one sees it too
    again = await hub.add("The plumber is coming on the 14th")
    assert again.action == "unchanged" and again.memory.id == added.memory.id
    await cli.forget(added.memory.id)
    assert await hub.search("when is the plumber coming?", k=1) == []
    assert index_agrees_with_sqlite(hub)
    await cli.close()
    await hub.close()


async def test_cli_in_another_process_while_a_store_is_open(open_store, tmp_path):
    data = tmp_path / "data"
    hub = await open_store(data / "memory")
    await hub.add("I keep my bike in the basement")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qira.cli", "memory", *args, "--data-dir", str(data), "--json"],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=120,
        )

    done = cli("add", "The gate code is 2580")
    assert done.returncode == 0, done.stderr
    new_id = json.loads(done.stdout)["id"]
    hits = await hub.search("what is the gate code?", k=1)
    assert hits[0].memory.id == new_id
    assert index_agrees_with_sqlite(hub)
    await hub.close()


async def test_large_store_switches_to_ivf_and_still_forgets(open_store, embedder, tmp_path):
    store = await open_store(tmp_path / "memory", exact_index_max=60)
    import asyncio

    results = await asyncio.gather(
        *(store.add(f"Log entry {i}: checked sensor {i * 7} in room {i % 9}") for i in range(150))
    )
    assert store._index.kind == "ivf" and index_agrees_with_sqlite(store)
    target = results[42].memory
    hits = await store.search(target.text, k=3)
    assert hits[0].memory.id == target.id
    await store.forget(target.id)
    assert target.id not in [h.memory.id for h in await store.search(target.text, k=3)]
    assert index_agrees_with_sqlite(store)
    await store.close()
    reopened = await open_store(tmp_path / "memory", exact_index_max=60)
    assert reopened.index_status == "loaded" and reopened._index.kind == "ivf"
    assert index_agrees_with_sqlite(reopened)
    await reopened.close()


@pytest.mark.slow
async def test_every_acknowledged_add_survives_kill_9(open_store, tmp_path):
    directory = tmp_path / "memory"
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_adder.py")), str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    acked: dict[str, str] = {}
    deadline = time.monotonic() + 120
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        while len(acked) < 60 and time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line, child.stderr.read()
            memory_id, text = line.rstrip("\n").split("\t")
            acked[memory_id] = text
    finally:
        child.send_signal(signal.SIGKILL)  # mid-stream: adds are in flight
        child.wait(10)
    for line in child.stdout:  # anything printed before the kill was acknowledged too
        if "\t" in line:
            memory_id, text = line.rstrip("\n").split("\t")
            acked[memory_id] = text
    assert len(acked) >= 60

    store = await open_store(directory)
    assert index_agrees_with_sqlite(store)
    assert await store.count() >= len(acked)
    for memory_id, text in acked.items():
        hits = await store.search(text, k=3)
        assert memory_id in [h.memory.id for h in hits], text
    vectors = np.stack(
        [np.frombuffer(b, dtype=np.float32) for (b,) in store._db.conn.execute("SELECT embedding FROM memories")]
    )
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    await store.close()
