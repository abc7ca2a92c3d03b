"""``qira memory``: add, search, forget, list, history, export, import — on the hub's own store.

Works while a hub is running on the same data directory: SQLite serialises the
writes, and the hub's index catches up with them before its next search.
Export and import use JSON lines, one memory per line.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from ..config import ensure_data_dir
from ..errors import InvalidMemory, QiraError
from ..memory import CONTEXT_KINDS, Embedder, MemoryKind, MemoryStore, Scope, memory_json
from ._common import add_config_options, config_from_args

ACTOR = "cli"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("memory", help="add, search, forget, list, export and import memories")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    add = _verb(verbs, "add", "remember a text", _add)
    add.add_argument("text")
    add.add_argument("--kind", choices=[k.value for k in MemoryKind], default="fact")
    add.add_argument("--scope", choices=[s.value for s in Scope], default="shared")
    add.add_argument("--device", help="source device id (device scope needs one)")
    add.add_argument("--importance", type=float, default=0.5, help="0 to 1 (default 0.5)")
    add.add_argument("--expires-in", type=float, metavar="HOURS", help="forget it after this many hours")

    search = _verb(verbs, "search", "find the memories that best answer a query", _search)
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5, help="how many results (default 5)")
    search.add_argument("--kind", action="append", choices=[k.value for k in MemoryKind], help="repeatable")
    search.add_argument("--scope", action="append", choices=[s.value for s in Scope], help="repeatable")
    search.add_argument("--device", help="only memories from this device")
    search.add_argument("--since", type=_when, help="ISO date/time or unix seconds")
    search.add_argument("--until", type=_when, help="ISO date/time or unix seconds")
    search.add_argument("--explain", action="store_true", help="show how each score was made")

    forget = _verb(verbs, "forget", "forget a memory for good", _forget)
    forget.add_argument("id")

    listing = _verb(verbs, "list", "list memories, newest first", _list)
    listing.add_argument("--kind", choices=[k.value for k in MemoryKind])
    listing.add_argument("--scope", choices=[s.value for s in Scope])
    listing.add_argument("--device")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--offset", type=int, default=0)

    history = _verb(verbs, "history", "every change to a memory, and who made it", _history)
    history.add_argument("id")

    export = _verb(verbs, "export", "write every memory as JSON lines", _export)
    export.add_argument("file", nargs="?", default="-", help="output file (default: stdout)")

    imp = _verb(verbs, "import", "read memories from JSON lines (as written by export)", _import)
    imp.add_argument("file", nargs="?", default="-", help="input file (default: stdin)")

    context = _verb(verbs, "context", "record a context event (place, activity, ...)", _context)
    context.add_argument("kind", choices=list(CONTEXT_KINDS))
    context.add_argument("value")
    context.add_argument("--device")


def _verb(verbs: argparse._SubParsersAction, name: str, help: str,
          fn: Callable[[MemoryStore, argparse.Namespace], Awaitable[int]]) -> argparse.ArgumentParser:
    parser = verbs.add_parser(name, help=help)
    add_config_options(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output (JSON lines)")
    parser.set_defaults(func=lambda args: _run(args, fn))
    return parser


def _run(args: argparse.Namespace, fn: Callable[[MemoryStore, argparse.Namespace], Awaitable[int]]) -> int:
    config = config_from_args(args)
    directory = ensure_data_dir(config) / "memory"

    async def main() -> int:
        store = MemoryStore(directory, config.memory, Embedder(batch_size=config.memory.embed_batch_size))
        await store.open()
        try:
            await store.wait_ready()
            return await fn(store, args)
        finally:
            await store.close()

    return asyncio.run(main())


def _when(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date/time or unix time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time, as the person typed it
    return moment.timestamp()


def _emit(args: argparse.Namespace, data: dict[str, Any], human: str) -> None:
    print(json.dumps(data, ensure_ascii=False) if args.json else human, flush=True)


def _stamp(t: float | None) -> str:
    return "-" if t is None else dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")


async def _add(store: MemoryStore, args: argparse.Namespace) -> int:
    expires = None
    if args.expires_in is not None:
        if args.expires_in <= 0:
            raise InvalidMemory("--expires-in must be a positive number of hours")
        expires = dt.datetime.now().timestamp() + args.expires_in * 3600
    result = await store.add(args.text, kind=args.kind, scope=args.scope, device=args.device,
                             importance=args.importance, expires_at=expires, actor=ACTOR)
    data = {"id": result.memory.id, "action": result.action, "chunks": [m.id for m in result.chunks],
            "note": result.note, "memory": memory_json(result.memory)}
    human = f"{result.action} {result.memory.id}" + (f"  ({result.note})" if result.note else "")
    if result.chunks:
        human += "\n" + "\n".join(f"  chunk {m.id}" for m in result.chunks)
    _emit(args, data, human)
    return 0


async def _search(store: MemoryStore, args: argparse.Namespace) -> int:
    hits = await store.search(args.query, k=args.k, kinds=args.kind, scopes=args.scope, device=args.device,
                              since=args.since, until=args.until)
    if not hits and not args.json:
        print("no memories found")
    for rank, hit in enumerate(hits, 1):
        m = hit.memory
        human = f"{rank}. [{hit.score:.3f}] {m.text}  ({m.kind.value}, {m.scope.value}, {m.id})"
        if args.explain:
            human += "\n   " + ", ".join(f"{k}={v}" for k, v in hit.explanation.items() if k != "weights")
        _emit(args, {"rank": rank, "score": hit.score, "memory": memory_json(m),
                     "explanation": dict(hit.explanation)}, human)
    return 0


async def _forget(store: MemoryStore, args: argparse.Namespace) -> int:
    await store.forget(args.id, actor=ACTOR)
    _emit(args, {"id": args.id, "forgotten": True}, f"forgot {args.id}")
    return 0


async def _list(store: MemoryStore, args: argparse.Namespace) -> int:
    memories = await store.list(kind=args.kind, scope=args.scope, device=args.device, limit=args.limit,
                                offset=args.offset)
    if not memories and not args.json:
        print("no memories")
    for m in memories:
        _emit(args, memory_json(m), f"{m.id}  {_stamp(m.created_at)}  {m.kind.value:<10} {m.scope.value:<7} {m.text}")
    return 0


async def _history(store: MemoryStore, args: argparse.Namespace) -> int:
    for e in await store.history(args.id):
        data = {"memory_id": e.memory_id, "seq": e.seq, "at": e.at, "op": e.op, "actor": e.actor,
                "text": e.text, "changes": dict(e.changes)}
        human = f"{_stamp(e.at)}  {e.op:<7} by {e.actor or 'hub'}" + (f": {e.text}" if e.text else "")
        _emit(args, data, human)
    return 0


async def _export(store: MemoryStore, args: argparse.Namespace) -> int:
    records = await store.export()
    out: IO[str] = sys.stdout if args.file == "-" else _open(args.file, "w")
    try:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"exported {len(records)} memories", file=sys.stderr)
    return 0


async def _import(store: MemoryStore, args: argparse.Namespace) -> int:
    source: IO[str] = sys.stdin if args.file == "-" else _open(args.file, "r")
    records = []
    try:
        for number, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidMemory(f"line {number}: not JSON ({exc.msg}); nothing was imported") from None
    finally:
        if source is not sys.stdin:
            source.close()
    counts = await store.import_records(records, actor=ACTOR)
    _emit(args, counts, f"imported {counts['imported']} memories, skipped {counts['skipped']} already present")
    return 0


async def _context(store: MemoryStore, args: argparse.Namespace) -> int:
    result = await store.add_context(args.kind, args.value, device=args.device)
    _emit(args, {"id": result.memory.id, "action": result.action, "scope": result.memory.scope.value},
          f"{result.action} {result.memory.id}: {result.memory.text} ({result.memory.scope.value})")
    return 0


def _open(path: str, mode: str) -> IO[str]:
    try:
        return Path(path).open(mode, encoding="utf-8")
    except OSError as exc:
        raise QiraError(f"cannot open {path}: {exc.strerror or exc}") from exc
