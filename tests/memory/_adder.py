"""Crash-test child: add memories as fast as it can, printing each id once add() has returned."""

import asyncio
import sys
from pathlib import Path

from qira.config import MemoryConfig
from qira.memory import Embedder, MemoryStore


async def main(directory: str) -> None:
    store = MemoryStore(Path(directory), MemoryConfig(), Embedder())
    await store.open()
    await store.wait_ready()
    print("ready", flush=True)
    n = 0
    while True:
        # Several adds in flight at once, as a busy hub would have: they share batches.
        texts = [
            f"Crash test note {n + i}: the {['red', 'green', 'blue', 'amber'][(n + i) % 4]} box number {n + i}"
            for i in range(8)
        ]
        n += len(texts)
        for text, result in zip(texts, await asyncio.gather(*(store.add(t) for t in texts)), strict=True):
            print(f"{result.memory.id}\t{text}", flush=True)


asyncio.run(main(sys.argv[1]))
