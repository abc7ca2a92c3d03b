"""The append-only audit log: for every skill step, who asked, what ran, what it used,
whether the person approved, and how it ended."""

from __future__ import annotations

import enum
import json
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .._sqlite import connect_readonly
from ..errors import DataDirError
from ._db import AgentDB

__all__ = ["AuditEntry", "AuditLog", "Outcome", "read_audit"]


class Outcome(enum.StrEnum):
    OK = "ok"
    ERROR = "error"  # the skill raised
    TIMEOUT = "timeout"
    PERMISSION_DENIED = "permission_denied"
    INVALID = "invalid_arguments"
    DENIED = "denied"  # the person said no, or did not answer in time


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    ts: float
    skill: str
    action: str  # the call, in words: "remind(text='stretch', when='in 2 seconds')"
    outcome: Outcome
    detail: str = ""
    device: str | None = None
    device_name: str | None = None
    thread: str | None = None
    turn: str | None = None
    permissions_granted: tuple[str, ...] = ()
    permissions_used: tuple[str, ...] = ()
    approval: str = "not needed"  # not needed | approved | denied | expired
    duration_ms: float | None = None
    seq: int | None = None

    def as_json(self) -> dict[str, object]:
        out = asdict(self)
        out["outcome"] = self.outcome.value
        return out


class AuditLog:
    def __init__(self, db: AgentDB) -> None:
        self._db = db

    async def append(self, entry: AuditEntry) -> None:
        row = (
            entry.ts or time.time(),
            entry.device,
            entry.device_name,
            entry.thread,
            entry.turn,
            entry.skill,
            entry.action,
            json.dumps(list(entry.permissions_granted)),
            json.dumps(list(entry.permissions_used)),
            entry.approval,
            entry.outcome.value,
            entry.detail,
            entry.duration_ms,
        )
        await self._db.run(
            lambda c: c.execute(
                "INSERT INTO audit (ts, device, device_name, thread, turn, skill, action, permissions_granted,"
                " permissions_used, approval, outcome, detail, duration_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                row,
            )
        )

    async def query(self, **filters: object) -> list[AuditEntry]:
        return await self._db.run(lambda c: _query(c, **filters))  # type: ignore[arg-type]


def read_audit(path: Path, **filters: object) -> list[AuditEntry]:
    """Read the log without a running hub (``qira audit``): opened read-only."""
    if not path.exists():
        return []
    try:  # also on a read-only copy of the data directory, and never creating anything
        conn = connect_readonly(path)
    except sqlite3.Error as exc:
        raise DataDirError(f"cannot read the audit log {path}: {exc}") from exc
    conn.row_factory = sqlite3.Row
    try:
        return _query(conn, **filters)  # type: ignore[arg-type]
    finally:
        conn.close()


def _query(
    conn: sqlite3.Connection,
    *,
    skill: str | None = None,
    device: str | None = None,
    outcome: str | None = None,
    since: float | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    where: list[str] = []
    args: list[object] = []
    for column, value in (("skill", skill), ("outcome", outcome)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if device:
        where.append("(device = ? OR device_name = ?)")
        args += [device, device]
    if since is not None:
        where.append("ts >= ?")
        args.append(since)
    sql = "SELECT * FROM audit" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq DESC LIMIT ?"
    rows = conn.execute(sql, [*args, limit]).fetchall()
    return [_entry(r) for r in reversed(rows)]


def _entry(r: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        seq=r["seq"],
        ts=r["ts"],
        device=r["device"],
        device_name=r["device_name"],
        thread=r["thread"],
        turn=r["turn"],
        skill=r["skill"],
        action=r["action"],
        permissions_granted=tuple(json.loads(r["permissions_granted"])),
        permissions_used=tuple(json.loads(r["permissions_used"])),
        approval=r["approval"],
        outcome=Outcome(r["outcome"]),
        detail=r["detail"],
        duration_ms=r["duration_ms"],
    )
