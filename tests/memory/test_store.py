"""The store's operations on a real SQLite file with the real embedding model."""

from __future__ import annotations

import time

import pytest

from qira.errors import InvalidMemory, MemoryNotFound
from qira.memory import MemoryKind, Scope
from qira.memory._db import text_hash

pytestmark = pytest.mark.anyio


async def ids(store, query, **kw):
    return [h.memory.id for h in await store.search(query, **kw)]


async def test_add_search_get_list(store):
    a = await store.add("My sister Ana's birthday is May 3", importance=0.8)
    b = await store.add("I don't eat meat", kind=MemoryKind.PREFERENCE)
    await store.add("The wifi password is on the fridge")
    assert a.action == "added" and a.note is None and a.chunks == ()
    hits = await store.search("when should I send Ana a birthday card?", k=2)
    assert hits[0].memory.id == a.memory.id
    assert hits[0].memory.scope is Scope.SHARED
    assert {"similarity", "lexical", "recency", "importance"} <= set(hits[0].explanation)
    assert hits[0].explanation["matched_terms"]  # "ana" and "birthday" are rare words here
    assert (await ids(store, "am I vegetarian?", k=1)) == [b.memory.id]
    assert (await store.get(b.memory.id)).kind is MemoryKind.PREFERENCE
    assert [m.id for m in await store.list(kind="preference")] == [b.memory.id]
    assert len(await store.list()) == 3


async def test_same_text_twice_is_kept_once_and_never_lost(store):
    first = await store.add("I park on level 3 at work")
    again = await store.add("I park on level 3 at work")
    assert again.action == "unchanged" and again.memory.id == first.memory.id
    assert "already remembered" in again.note
    assert len(await store.list()) == 1
    assert (await ids(store, "where do I park?", k=1)) == [first.memory.id]


async def test_near_duplicate_updates_instead_of_piling_up(store):
    first = await store.add("My dentist is Dr. Silva on Rua Augusta")
    second = await store.add("my dentist is Dr. Silva, on Rua Augusta", actor="phone-1")
    assert second.action == "updated" and second.memory.id == first.memory.id
    assert "near-duplicate" in second.note
    assert (await store.get(first.memory.id)).text == "my dentist is Dr. Silva, on Rua Augusta"
    history = await store.history(first.memory.id)
    assert [e.op for e in history] == ["add", "merge"]
    assert history[1].actor == "phone-1" and history[1].changes["text"][0] == "My dentist is Dr. Silva on Rua Augusta"


async def test_close_texts_with_different_numbers_or_names_are_both_kept(store):
    a = await store.add("My sister's birthday is May 3")
    b = await store.add("My sister's birthday is May 4")
    c = await store.add("I visited Porto on my trip")
    d = await store.add("I visited Braga on my trip")
    assert {r.action for r in (a, b, c, d)} == {"added"}
    assert len(await store.list()) == 4


async def test_concurrent_adds_are_batched_and_deduplicated_within_the_batch(store):
    import asyncio

    texts = [f"Reminder number {i}: water the plants on the balcony" for i in range(40)]
    results = await asyncio.gather(*(store.add(t) for t in texts + texts[:5]))
    assert [r.action for r in results[:40]] == ["added"] * 40
    assert [r.action for r in results[40:]] == ["unchanged"] * 5
    assert [r.memory.id for r in results[40:]] == [r.memory.id for r in results[:5]]
    assert await store.count() == 40


async def test_long_text_is_split_into_chunks_that_are_found(store):
    filler = " ".join(f"Paragraph {i} talks about the weather and nothing else." for i in range(60))
    text = filler + " The spare house key is hidden under the blue flowerpot."
    result = await store.add(text)
    assert len(result.chunks) >= 2 and result.action == "added"
    assert "over the 2000-character limit" in result.note and f"{len(result.chunks)} chunks" in result.note
    assert all(len(m.text) <= 2000 for m in result.chunks)
    hits = await store.search("where is the spare house key?", k=1)
    assert hits[0].memory.id == result.chunks[-1].id
    await store.forget(result.memory.id)  # forgetting the first chunk forgets them all
    assert await store.count() == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.add(""), "empty"),
        (lambda s: s.add("   \n "), "empty"),
        (lambda s: s.add("x", kind="feeling"), "unknown kind"),
        (lambda s: s.add("x", scope="public"), "unknown scope"),
        (lambda s: s.add("x", importance=2), "importance"),
        (lambda s: s.add("x", scope="device"), "device"),
        (lambda s: s.add("x", expires_at=1.0), "in the past"),
        (lambda s: s.search(""), "query is empty"),
        (lambda s: s.search("x", k=0), "k must be"),
        (lambda s: s.search("x", kinds=["nope"]), "unknown kind"),
        (lambda s: s.search("x", kinds=5), "kinds must be a list"),
        (lambda s: s.search("x", since=10, until=5), "time range is empty"),
        (lambda s: s.list(limit=-1), "limit"),
        (lambda s: s.update("m_x", importance=-1), "importance"),
        (lambda s: s.add_context("mood", "happy", device="d"), "unknown context kind"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_written(store, call, message):
    with pytest.raises(InvalidMemory, match=message):
        await call(store)
    assert await store.count() == 0


async def test_unknown_ids(store):
    for call in (
        store.get("m_nope"),
        store.forget("m_nope"),
        store.update("m_nope", text="x"),
        store.history("m_nope"),
    ):
        with pytest.raises(MemoryNotFound):
            await call


async def test_update_and_history_record_who_changed_what(store):
    added = await store.add("I run on Tuesdays", actor="cli")
    updated = await store.update(added.memory.id, text="I run on Thursdays", importance=0.9, actor="phone-1")
    assert updated.text == "I run on Thursdays" and updated.importance == 0.9
    assert (await ids(store, "which day do I go running?", k=1)) == [added.memory.id]
    history = await store.history(added.memory.id)
    assert [(e.op, e.actor) for e in history] == [("add", "cli"), ("update", "phone-1")]
    assert history[1].changes == {"text": ["I run on Tuesdays", "I run on Thursdays"], "importance": [0.5, 0.9]}


async def test_forget_removes_row_vector_cache_and_old_texts(store):
    kept = await store.add("My favourite colour is green")
    gone = await store.add("My bank PIN hint is the cat's birthday", scope=Scope.PRIVATE)
    await store.forget(gone.memory.id, actor="cli")
    with pytest.raises(MemoryNotFound):
        await store.get(gone.memory.id)
    assert gone.memory.id not in await ids(store, "bank PIN hint", k=5)
    assert store._index.size == 1
    assert text_hash(gone.memory.text) not in store._cache
    history = await store.history(gone.memory.id)
    assert history[-1].op == "forget" and all(e.text is None for e in history)
    assert (await store.get(kept.memory.id)).text == "My favourite colour is green"


async def test_filters_and_scopes(store):
    t0 = time.time()
    shared = await store.add("I like jazz music")
    private = await store.add("I like jazz clubs late at night", scope="private")
    mine = await store.add("I like jazz on this phone's speaker", scope="device", device="phone-1")
    theirs = await store.add("I like jazz on the tablet", scope="device", device="tablet-1")
    everything = await ids(store, "jazz", k=10)
    assert set(everything) == {r.memory.id for r in (shared, private, mine, theirs)}
    visible = await ids(store, "jazz", k=10, visible_to="phone-1")
    assert set(visible) == {shared.memory.id, mine.memory.id}
    assert await ids(store, "jazz", k=10, scopes=["private"]) == [private.memory.id]
    assert await ids(store, "jazz", k=10, device="tablet-1") == [theirs.memory.id]
    assert await ids(store, "jazz", k=10, until=t0 - 1) == []
    assert len(await ids(store, "jazz", k=10, since=t0, kinds=["fact"])) == 4
    listed = await store.list(visible_to="tablet-1")
    assert {m.id for m in listed} == {shared.memory.id, theirs.memory.id}


async def test_context_events_decay_and_refresh(store):
    old = await store.add_context("activity", "running in the park", device="watch-1")
    assert old.memory.kind is MemoryKind.CONTEXT and old.memory.expires_at is not None
    # Age it by a day (one half-life): its score drops by a quarter against a fresh twin.
    store._db.conn.execute("UPDATE memories SET updated_at = updated_at - 86400 WHERE id = ?", (old.memory.id,))
    fresh = await store.add_context("activity", "running along the river", device="watch-1")
    hits = await store.search("am I out running?", k=2)
    by_id = {h.memory.id: h for h in hits}
    assert 0.45 < by_id[old.memory.id].explanation["decay"] < 0.55
    assert by_id[fresh.memory.id].explanation["decay"] > 0.99
    place = await store.add_context("place", "the gym", device="phone-1")
    assert place.memory.scope is Scope.PRIVATE
    again = await store.add_context("place", "the gym", device="phone-1")
    assert again.memory.id == place.memory.id and again.action == "updated"


async def test_expired_memories_are_hidden_and_purged(store):
    soon = await store.add("The parcel code is 4471", expires_at=time.time() + 2.0)  # slack for a busy machine
    assert await ids(store, "parcel code", k=1) == [soon.memory.id]
    import asyncio

    await asyncio.sleep(max(0.0, soon.memory.expires_at - time.time()) + 0.05)
    assert await ids(store, "parcel code", k=1) == []
    assert await store.purge_expired() == 1
    assert await store.count() == 0


async def test_export_then_import_gives_the_same_search_results(store, open_store, tmp_path):
    for text in [
        "I take the 8:15 train to work",
        "My passport expires in 2031",
        "I prefer aisle seats",
        "Tomás is my running partner",
        "I'm allergic to penicillin",
        "The boiler was serviced in March",
    ]:
        await store.add(text)
    records = await store.export()
    other = await open_store(tmp_path / "other")
    assert await other.import_records(records) == {"imported": 6, "skipped": 0}
    assert await other.import_records(records) == {"imported": 0, "skipped": 6}
    for query in ["when does my passport run out?", "what medicine must I avoid?", "who do I run with?"]:
        mine = await store.search(query, k=3)
        theirs = await other.search(query, k=3)
        assert [h.memory for h in mine] == [h.memory for h in theirs]
        assert [h.score for h in mine] == pytest.approx([h.score for h in theirs], abs=1e-4)
    await other.close()


async def test_import_checks_every_record_before_writing(store):
    with pytest.raises(InvalidMemory, match="record 2"):
        await store.import_records([{"text": "fine"}, {"text": ""}])
    assert await store.count() == 0


async def test_a_closed_store_refuses_work(open_store):
    from qira.errors import MemoryStoreError

    store = await open_store()
    await store.add("I like quiet mornings")
    await store.close()
    for call in (store.add("x"), store.search("x"), store.list(), store.get("m_x")):
        with pytest.raises(MemoryStoreError, match="closed"):
            await call
