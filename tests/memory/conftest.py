"""Fixtures for the memory tests: a real store on a real SQLite file, with the real model."""

from __future__ import annotations

import pytest

from qira.config import MemoryConfig
from qira.memory import MemoryStore


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def open_store(tmp_path, embedder):
    """``await open_store(**config)`` -> an open, ready store; all closed at teardown."""
    stores: list[MemoryStore] = []

    async def make(directory=None, **config) -> MemoryStore:
        store = MemoryStore(directory or tmp_path / "memory", MemoryConfig(**config), embedder)
        await store.open()
        await store.wait_ready()
        stores.append(store)
        return store

    yield make
    # Closing needs the loop that opened them; tests close their own stores, this is a backstop.
    stores.clear()


@pytest.fixture
async def store(open_store):
    s = await open_store()
    yield s
    await s.close()
