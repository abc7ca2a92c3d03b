"""Memory benchmark: recall on a hand-written persona, search latency at scale, ingest rate.

    python bench/memory.py --out bench/results/memory.json          # full: 10k, 100k, 1M
    python bench/memory.py --quick --out /tmp/memory-quick.json     # recall, small ingest, 10k only
    python bench/memory.py --parts latency --sizes 10000,100000    # one part, chosen sizes

Qira is compared with chromadb (the default local vector store of most agent
frameworks) in the same run, with the same embedding model: chromadb is handed
the vectors Qira's embedder computed, so the embedding cost is identical and
only retrieval differs.

- recall: bench/data/persona.json (memories + natural queries + distractors);
  recall@5 and MRR@10 for Qira's blended search and chromadb's cosine search.
- latency: synthetic clustered unit vectors with Zipf-distributed synthetic
  text (so FTS5 sees a realistic mix of common and rare words); queries are
  given as precomputed vectors to both systems (embedding a query costs the
  same ~10-15 ms for both and is reported separately). Qira's figure is the
  whole ``MemoryStore.search`` call: index, SQLite rows, FTS5, scoring.
- ingest: concurrent ``MemoryStore.add`` calls (dedup, SQLite commit with
  fsync, FAISS insert included) against raw sentence-transformers encode
  throughput on the same texts in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import emit  # noqa: E402  (bench/ is on sys.path when run as a script)

from qira.config import MemoryConfig  # noqa: E402
from qira.memory import Embedder, MemoryStore  # noqa: E402
from qira.memory._db import Database, text_hash  # noqa: E402

DATA = Path(__file__).with_name("data") / "persona.json"
DIM = 384


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def chroma_client():
    import chromadb
    from chromadb.config import Settings

    return chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False, allow_reset=True))


# -- recall ----------------------------------------------------------------------------


def _rank(got: list[str], wanted: set[str]) -> int | None:
    return next((i for i, g in enumerate(got, 1) if g in wanted), None)


def _summary(ranks: list[int | None]) -> dict[str, float]:
    return {
        "recall@1": round(sum(r is not None and r <= 1 for r in ranks) / len(ranks), 4),
        "recall@5": round(sum(r is not None and r <= 5 for r in ranks) / len(ranks), 4),
        "mrr@10": round(sum(1 / r for r in ranks if r is not None) / len(ranks), 4),
    }


async def recall(embedder: Embedder, workdir: Path) -> dict[str, Any]:
    data = json.loads(DATA.read_text())
    memories = data["memories"]
    store = MemoryStore(workdir / "recall", MemoryConfig(), embedder)
    await store.open()
    await store.wait_ready()
    results = await asyncio.gather(*(store.add(m["text"], kind=m["kind"]) for m in memories))
    to_store = {m["id"]: r.memory.id for m, r in zip(memories, results, strict=True)}
    merged = sum(r.action != "added" for r in results)
    mvecs = embedder.encode([m["text"] for m in memories])
    client = chroma_client()
    col = client.create_collection("recall", metadata={"hnsw:space": "cosine"})
    col.add(ids=[m["id"] for m in memories], embeddings=mvecs.tolist(), documents=[m["text"] for m in memories])

    out: dict[str, Any] = {
        "memories": len(memories),
        "distractors": sum(bool(m.get("distractor")) for m in memories),
        "merged_as_duplicates": merged,
    }
    for name in ("queries", "keyword_queries"):
        queries = data[name]
        qvecs = embedder.encode([q["query"] for q in queries])
        qira_ranks = []
        for q, vec in zip(queries, qvecs, strict=True):
            hits = await store.search(q["query"], k=10, embedding=vec)
            qira_ranks.append(_rank([h.memory.id for h in hits], {to_store[r] for r in q["relevant"]}))
        answer = col.query(query_embeddings=qvecs.tolist(), n_results=10)
        chroma_ranks = [_rank(got, set(q["relevant"])) for q, got in zip(queries, answer["ids"], strict=True)]
        out[name] = {"count": len(queries), "qira": _summary(qira_ranks), "chromadb": _summary(chroma_ranks)}
    await store.close()
    client.reset()
    return out


# -- ingest ----------------------------------------------------------------------------

_SUBJECTS = ["I", "Tomás", "Leonor", "Mum", "Rui", "Carla", "Sofia", "Duarte", "The team", "Grandma Alda", "Inês"]
_VERBS = [
    "booked",
    "cancelled",
    "moved",
    "planned",
    "forgot",
    "finished",
    "started",
    "paid for",
    "asked about",
    "rescheduled",
    "bought",
    "returned",
    "recommended",
    "complained about",
    "signed up for",
]
_OBJECTS = [
    "the dentist appointment",
    "a table at Prado",
    "the flights to the Azores",
    "swimming lessons",
    "the boiler service",
    "a new winter coat",
    "the car inspection",
    "tickets for Ana Moura",
    "the school trip",
    "a birthday cake",
    "the gym membership",
    "a weekend in Évora",
    "the vet visit",
    "the electricity contract",
    "a laptop stand",
    "the design review",
    "a pottery class",
    "new curtains",
]
_WHEN = [
    "on Monday",
    "yesterday",
    "last week",
    "for next Friday",
    "in March",
    "this morning",
    "before the holidays",
    "after work",
    "on the 14th",
    "for the weekend",
    "at lunchtime",
    "two days ago",
]


def ingest_texts(n: int, seed: int = 7) -> list[str]:
    rng = np.random.default_rng(seed)
    out, seen = [], set()
    while len(out) < n:
        parts = [rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS), rng.choice(_WHEN)]
        text = " ".join(parts) + f" (note {len(out) + 1})"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


async def ingest(embedder: Embedder, workdir: Path, n: int, rounds: int = 3) -> dict[str, Any]:
    """Raw encode and Qira adds of the same texts, interleaved round by round.

    The machine is shared, so its speed drifts: each round compares Qira with a raw
    encode measured right next to it, and the median of the per-round ratios is reported."""
    texts = ingest_texts(n)
    embedder.encode(texts)  # warm-up: the first pass over new shapes is slow
    raws, rates, ratios = [], [], []
    for round_ in range(rounds):
        started = time.perf_counter()
        embedder.encode(texts)
        raw = n / (time.perf_counter() - started)
        store = MemoryStore(workdir / f"ingest{round_}", MemoryConfig(), embedder)
        await store.open()
        await store.wait_ready()
        started = time.perf_counter()
        results = await asyncio.gather(*(store.add(t) for t in texts))
        rate = n / (time.perf_counter() - started)
        assert sum(r.action == "added" for r in results) == n
        await store.close()
        store._cache.clear()  # the next round embeds again rather than hitting the cache
        shutil.rmtree(workdir / f"ingest{round_}", ignore_errors=True)
        raws.append(raw)
        rates.append(rate)
        ratios.append(rate / raw)
    return {
        "texts": n,
        "rounds": rounds,
        "raw_encode_per_s": [round(r, 1) for r in raws],
        "qira_add_per_s": [round(r, 1) for r in rates],
        "fraction_of_raw_per_round": [round(r, 3) for r in ratios],
        "fraction_of_raw": round(statistics.median(ratios), 3),
        "target_fraction": 0.85,
    }


# -- latency at scale --------------------------------------------------------------------


_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fe", "go", "hu", "ji", "pa", "zo"]


def _word(i: int) -> str:
    out = ""
    while True:
        out += _SYLLABLES[i % 16]
        i //= 16
        if i == 0:
            return out


def synthetic(n: int, seed: int = 11) -> tuple[np.ndarray, list[str]]:
    """Clustered unit vectors (sentence embeddings cluster by topic) and Zipf-worded texts.

    Words are pseudo-words with a Zipf frequency, like ordinary vocabulary; one text in
    five also names someone (a capitalised word from 5,000 names), like real memories do."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(16, n // 500), DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        labels = rng.integers(0, len(centres), stop - start)
        block = centres[labels] + 0.08 * rng.standard_normal((stop - start, DIM)).astype(np.float32)
        vectors[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    vocab = np.array([_word(i) for i in range(50_000)])
    names = np.array([_word(i + 70_000).capitalize() for i in range(5_000)])
    words = np.minimum(rng.zipf(1.3, size=(n, 8)) - 1, len(vocab) - 1)
    named = rng.random(n) < 0.2
    who = rng.integers(0, len(names), n)
    texts = [(names[who[i]] + " " if named[i] else "") + " ".join(row) for i, row in enumerate(vocab[words])]
    return vectors, texts


def bulk_load(directory: Path, vectors: np.ndarray, texts: list[str]) -> None:
    """Write rows straight into the store's SQLite schema (what n add() calls would leave behind)."""
    directory.mkdir(parents=True, exist_ok=True)
    db = Database(directory / "memory.db")
    db.conn.execute("PRAGMA synchronous=OFF")  # bench set-up only
    # Index the text for FTS5 once at the end rather than row by row through the trigger.
    db.conn.execute("DROP TRIGGER memories_ai")
    now = time.time()
    for start in range(0, len(texts), 50_000):
        stop = min(len(texts), start + 50_000)
        with db.write() as seq:
            db.conn.executemany(
                "INSERT INTO memories (id, text, text_hash, kind, scope, device, importance, created_at, updated_at,"
                " expires_at, parent, seq, vseq, embedding) VALUES (?,?,?,'fact','shared',NULL,0.5,?,?,NULL,NULL,?,?,?)",
                (
                    (f"s{i}", texts[i], text_hash(texts[i]), now - i, now - i, seq, seq, vectors[i].tobytes())
                    for i in range(start, stop)
                ),
            )
    with db.write():
        db.conn.execute("INSERT INTO memories_fts (memories_fts) VALUES ('rebuild')")
    db.close()
    Database(directory / "memory.db").close()  # puts the trigger back


def query_set(vectors: np.ndarray, texts: list[str], count: int, seed: int = 5) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(vectors), count, replace=False)
    qv = vectors[picks] + 0.05 * rng.standard_normal((count, DIM)).astype(np.float32)
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    qt = [" ".join(texts[i].split()[:4]) for i in picks]
    return qv.astype(np.float32), qt


async def qira_latency(
    embedder: Embedder, directory: Path, vectors: np.ndarray, texts: list[str], queries: int
) -> dict[str, Any]:
    before = rss_mb()
    started = time.perf_counter()
    bulk_load(directory, vectors, texts)
    loaded = time.perf_counter() - started
    store = MemoryStore(directory, MemoryConfig(), embedder)
    started = time.perf_counter()
    await store.open()
    opened = time.perf_counter() - started
    await store.wait_ready()
    indexed = time.perf_counter() - started
    qv, qt = query_set(vectors, texts, queries)
    for vec, text in zip(qv[:20], qt[:20], strict=True):  # warm caches
        await store.search(text, k=5, embedding=vec)
    times, exact_hits = [], 0
    for vec, text in zip(qv, qt, strict=True):
        t = time.perf_counter()
        hits = await store.search(text, k=5, embedding=vec)
        times.append((time.perf_counter() - t) * 1000)
        exact_hits += bool(hits)
    # Index quality at this size: top-1 by FAISS vs exact brute force on a sample.
    sample = qv[:50]
    exact = np.argmax(sample @ vectors.T, axis=1)
    approx = store._index.search(sample, 1)[1][:, 0]
    vid_of_row = np.arange(1, len(vectors) + 1)  # bulk-loaded vids are 1..n in row order
    agree = float(np.mean(vid_of_row[exact] == approx))
    out = {
        "index": store._index.kind,
        "p50_ms": round(percentile(times, 50), 3),
        "p95_ms": round(percentile(times, 95), 3),
        "bulk_load_s": round(loaded, 1),
        "open_s": round(opened, 3),
        "index_ready_s": round(indexed, 1),
        "top1_agrees_with_exact": round(agree, 3),
        "rss_mb": round(rss_mb(), 1),
        "rss_delta_mb": round(rss_mb() - before, 1),
        "db_mb": round(sum(f.stat().st_size for f in directory.glob("memory.db*")) / 2**20, 1),
        "index_file_mb": round((directory / "index.faiss").stat().st_size / 2**20, 1),
    }
    await store.close()
    return out


def chroma_latency(vectors: np.ndarray, texts: list[str], queries: int) -> dict[str, Any]:
    client = chroma_client()
    col = client.create_collection("latency", metadata={"hnsw:space": "cosine"})
    started = time.perf_counter()
    step = 5000
    for start in range(0, len(vectors), step):
        stop = min(len(vectors), start + step)
        col.add(ids=[f"s{i}" for i in range(start, stop)], embeddings=vectors[start:stop], documents=texts[start:stop])
    built = time.perf_counter() - started
    qv, _ = query_set(vectors, texts, queries)
    for vec in qv[:20]:
        col.query(query_embeddings=[vec.tolist()], n_results=5)
    times = []
    for vec in qv:
        t = time.perf_counter()
        col.query(query_embeddings=[vec.tolist()], n_results=5)
        times.append((time.perf_counter() - t) * 1000)
    client.reset()
    return {
        "p50_ms": round(percentile(times, 50), 3),
        "p95_ms": round(percentile(times, 95), 3),
        "build_s": round(built, 1),
        "build_per_s": round(len(vectors) / built, 1),
    }


async def latency(embedder: Embedder, workdir: Path, sizes: list[int], chroma_max: int, queries: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in sizes:
        log(f"latency: {n:,} memories")
        vectors, texts = synthetic(n)
        row: dict[str, Any] = {"qira": await qira_latency(embedder, workdir / f"lat{n}", vectors, texts, queries)}
        shutil.rmtree(workdir / f"lat{n}", ignore_errors=True)
        if n <= chroma_max:
            row["chromadb"] = chroma_latency(vectors, texts, queries)
            row["qira_p95_over_chromadb_p95"] = round(row["qira"]["p95_ms"] / row["chromadb"]["p95_ms"], 3)
        else:
            row["chromadb"] = None
        log(f"  {json.dumps(row)}")
        out[str(n)] = row
        del vectors, texts
    return out


def query_embedding_ms(embedder: Embedder) -> dict[str, float]:
    times = []
    for i in range(30):
        t = time.perf_counter()
        embedder.encode([f"what did I plan for the weekend number {i}?"])
        times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write the JSON results here")
    parser.add_argument("--quick", action="store_true", help="recall, a small ingest run and 10k latency only")
    parser.add_argument("--sizes", help="comma-separated store sizes for latency (default 10000,100000,1000000)")
    parser.add_argument(
        "--chroma-max",
        type=int,
        default=100_000,
        help="largest size chromadb is built at (its build rate makes 1M take ~15+ minutes here)",
    )
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--parts", default="recall,ingest,latency", help="which parts to run (comma-separated)")
    args = parser.parse_args()
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else ([10_000] if args.quick else [10_000, 100_000, 1_000_000])
    )
    workdir = Path(tempfile.mkdtemp(prefix="qira-bench-memory-"))
    embedder = Embedder()
    embedder.load()
    results: dict[str, Any] = {"benchmark": "memory", "quick": args.quick, "cpus": os.cpu_count()}
    try:
        parts = set(args.parts.split(","))
        if "recall" in parts:
            log("recall on the persona set")
            results["recall"] = await recall(embedder, workdir)
            log(f"  {json.dumps(results['recall'])}")
        if "ingest" in parts:
            log("ingest")
            results["ingest"] = await ingest(
                embedder, workdir, 400 if args.quick else 1000, rounds=3 if args.quick else 5
            )
            log(f"  {json.dumps(results['ingest'])}")
        if "latency" in parts:
            results["query_embedding"] = query_embedding_ms(embedder)
            results["latency"] = await latency(embedder, workdir, sizes, args.chroma_max, args.queries)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    emit(results, args.out)


if __name__ == "__main__":
    asyncio.run(main())
