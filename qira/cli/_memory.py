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
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ..api.admin import memory_op
from ..config import ensure_data_dir
from ..errors import InvalidMemory, QiraError
from ._common import (
    add_config_options,
    admin_call,
    config_from_args,
    existing_data_dir,
    non_negative_int,
    positive_int,
    running_hub,
    unit_float,
)

# qira.memory's MemoryKind, Scope and CONTEXT_KINDS values (a test keeps them equal): importing the
# memory package here would cost every command, and with a hub running the CLI never needs it
KINDS = ("fact", "preference", "episode", "context")
SCOPES = ("shared", "device", "private")
CONTEXT = ("place", "activity", "focus", "battery", "nearby")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("memory", help="add, search, forget, list, export and import memories")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    add = _verb(verbs, "add", "remember a text", _add)
    add.add_argument("text")
    add.add_argument("--kind", choices=list(KINDS), default="fact")
    add.add_argument("--scope", choices=list(SCOPES), default="shared")
    add.add_argument("--device", help="source device id (device scope needs one)")
    add.add_argument("--importance", type=unit_float, default=0.5, help="0 to 1 (default 0.5)")
    add.add_argument("--expires-in", type=float, metavar="HOURS", help="forget it after this many hours")

    search = _verb(verbs, "search", "find the memories that best answer a query", _search)
    search.add_argument("query")
    search.add_argument("-k", type=positive_int, default=5, help="how many results (default 5)")
    search.add_argument("--kind", action="append", choices=list(KINDS), help="repeatable")
    search.add_argument("--scope", action="append", choices=list(SCOPES), help="repeatable")
    search.add_argument("--device", help="only memories from this device")
    search.add_argument("--since", type=_when, help="ISO date/time or unix seconds")
    search.add_argument("--until", type=_when, help="ISO date/time or unix seconds")
    search.add_argument("--explain", action="store_true", help="show how each score was made")

    forget = _verb(verbs, "forget", "forget a memory for good", _forget)
    forget.add_argument("id")

    listing = _verb(verbs, "list", "list memories, newest first", _list)
    listing.add_argument("--kind", choices=list(KINDS))
    listing.add_argument("--scope", choices=list(SCOPES))
    listing.add_argument("--device")
    listing.add_argument("--limit", type=positive_int, default=50, help="at most this many (default 50)")
    listing.add_argument("--offset", type=non_negative_int, default=0, help="skip this many newest first (default 0)")

    history = _verb(verbs, "history", "every change to a memory, and who made it", _history)
    history.add_argument("id")

    export = _verb(verbs, "export", "write every memory as JSON lines", _export)
    export.add_argument("file", nargs="?", default="-", help="output file (default: stdout)")

    imp = _verb(verbs, "import", "read memories from JSON lines (as written by export)", _import)
    imp.add_argument("file", nargs="?", default="-", help="input file (default: stdin)")

    context = _verb(verbs, "context", "record a context event (place, activity, ...)", _context)
    context.add_argument("kind", choices=list(CONTEXT))
    context.add_argument("value")
    context.add_argument("--device")


def _verb(
    verbs: argparse._SubParsersAction,
    name: str,
    help: str,
    render: Callable[[argparse.Namespace, dict[str, Any]], None],
) -> argparse.ArgumentParser:
    parser = verbs.add_parser(name, help=help)
    add_config_options(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output (JSON lines)")
    parser.set_defaults(func=lambda args: _run(args, name, render))
    return parser


def _run(args: argparse.Namespace, verb: str, render: Callable[[argparse.Namespace, dict[str, Any]], None]) -> int:
    """Ask the running hub when there is one (fast: its embedding model is loaded), else
    open the data directory's store here. Reads never create a data directory."""
    config = config_from_args(args)
    request = _request(args, verb)
    hub = running_hub(config)
    if hub is not None:
        result = admin_call(hub, f"memory.{verb}", request)
    else:
        directory = (existing_data_dir(config) if verb in _READS else ensure_data_dir(config)) / "memory"

        from ..memory import Embedder, MemoryStore

        async def main() -> dict[str, Any]:
            # reads open the store read-only: beside a running hub, or on a read-only copy
            store = MemoryStore(
                directory, config.memory, Embedder(batch_size=config.memory.embed_batch_size), readonly=verb in _READS
            )
            await store.open()
            try:
                await store.wait_ready()
                return await memory_op(store, verb, request)
            finally:
                await store.close()

        result = asyncio.run(main())
    render(args, result)
    return 0


_READS = frozenset({"search", "list", "history", "export"})


def _request(args: argparse.Namespace, verb: str) -> dict[str, Any]:
    """The verb's arguments as JSON (what the admin path carries)."""
    if verb == "add":
        expires = None
        if args.expires_in is not None:
            if args.expires_in <= 0:
                raise InvalidMemory("--expires-in must be a positive number of hours")
            expires = dt.datetime.now().timestamp() + args.expires_in * 3600
        return {
            "text": args.text,
            "kind": args.kind,
            "scope": args.scope,
            "device": args.device,
            "importance": args.importance,
            "expires_at": expires,
        }
    if verb == "search":
        return {
            "query": args.query,
            "k": args.k,
            "kinds": args.kind,
            "scopes": args.scope,
            "device": args.device,
            "since": args.since,
            "until": args.until,
        }
    if verb in ("forget", "history"):
        return {"id": args.id}
    if verb == "list":
        return {
            "kind": args.kind,
            "scope": args.scope,
            "device": args.device,
            "limit": args.limit,
            "offset": args.offset,
        }
    if verb == "import":
        return {"records": _read_records(args.file)}
    if verb == "context":
        return {"kind": args.kind, "value": args.value, "device": args.device}
    return {}


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


def _add(args: argparse.Namespace, r: dict[str, Any]) -> None:
    human = f"{r['action']} {r['id']}" + (f"  ({r['note']})" if r.get("note") else "")
    if r.get("chunks"):
        human += "\n" + "\n".join(f"  chunk {c}" for c in r["chunks"])
    _emit(args, r, human)


def _search(args: argparse.Namespace, r: dict[str, Any]) -> None:
    if not r["hits"] and not args.json:
        print("no memories found")
    for hit in r["hits"]:
        m = hit["memory"]
        human = f"{hit['rank']}. [{hit['score']:.3f}] {m['text']}  ({m['kind']}, {m['scope']}, {m['id']})"
        if args.explain:
            human += "\n   " + ", ".join(f"{k}={v}" for k, v in hit["explanation"].items() if k != "weights")
        _emit(args, hit, human)


def _forget(args: argparse.Namespace, r: dict[str, Any]) -> None:
    _emit(args, r, f"forgot {r['id']}")


def _list(args: argparse.Namespace, r: dict[str, Any]) -> None:
    if not r["memories"] and not args.json:
        print("no memories")
    for m in r["memories"]:
        _emit(args, m, f"{m['id']}  {_stamp(m['created_at'])}  {m['kind']:<10} {m['scope']:<7} {m['text']}")


def _history(args: argparse.Namespace, r: dict[str, Any]) -> None:
    for e in r["entries"]:
        human = f"{_stamp(e['at'])}  {e['op']:<7} by {e['actor'] or 'hub'}" + (f": {e['text']}" if e["text"] else "")
        _emit(args, e, human)


def _export(args: argparse.Namespace, r: dict[str, Any]) -> None:
    records = r["records"]
    out: IO[str] = sys.stdout if args.file == "-" else _open(args.file, "w")
    try:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"exported {len(records)} memories", file=sys.stderr)


def _read_records(file: str) -> list[Any]:
    source: IO[str] = sys.stdin if file == "-" else _open(file, "r")
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
    return records


def _import(args: argparse.Namespace, r: dict[str, Any]) -> None:
    _emit(args, r, f"imported {r['imported']} memories, skipped {r['skipped']} already present")


def _context(args: argparse.Namespace, r: dict[str, Any]) -> None:
    _emit(args, r, f"{r['action']} {r['id']}: {r['text']} ({r['scope']})")


def _open(path: str, mode: str) -> IO[str]:
    try:
        return Path(path).open(mode, encoding="utf-8")
    except OSError as exc:
        raise QiraError(f"cannot open {path}: {exc.strerror or exc}") from exc
