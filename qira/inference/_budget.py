"""Token usage, recorded in SQLite (``<data dir>/inference.db``), and the daily cloud budget.

Today's cloud total is kept in memory so the router reads it without touching the
disk; writes go through :meth:`TokenLedger.record`, which callers run off the loop.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import InferenceError
from ._types import Target

__all__ = ["TokenLedger"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    day TEXT NOT NULL,
    target TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_day ON usage (day, target);
"""


class TokenLedger:
    """``daily_budget`` cloud tokens a day (the person's local day); 0 means no limit."""

    def __init__(self, path: Path, *, daily_budget: int, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.daily_budget = daily_budget
        self.clock = clock
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._day = self._today()
            self._cloud_today = self._sum(self._day, Target.CLOUD)
        except sqlite3.Error as exc:
            raise InferenceError(f"cannot open the usage ledger {path}: {exc}") from exc

    def _today(self) -> str:
        return _day(self.clock())

    def _sum(self, day: str, target: Target) -> int:
        row = self._db.execute(
            "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM usage WHERE day = ? AND target = ?",
            (day, target.value),
        ).fetchone()
        return int(row[0])

    @property
    def cloud_used_today(self) -> int:
        today = self._today()
        if today != self._day:  # midnight passed: a new day's budget
            self._day, self._cloud_today = today, 0
        return self._cloud_today

    def cloud_tokens_left(self) -> int | None:
        """Tokens left today, or ``None`` when there is no limit."""
        if self.daily_budget == 0:
            return None
        return max(0, self.daily_budget - self.cloud_used_today)

    def record(self, target: Target, prompt_tokens: int, completion_tokens: int) -> None:
        """Record one turn's usage (blocking: run it in a thread)."""
        now = self.clock()
        day = _day(now)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO usage (at, day, target, prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?, ?)",
                    (now, day, target.value, prompt_tokens, completion_tokens),
                )
            except sqlite3.Error as exc:
                raise InferenceError(f"cannot record token usage: {exc}") from exc
            if target is Target.CLOUD:
                if day != self._day:
                    self._day, self._cloud_today = day, 0
                self._cloud_today += prompt_tokens + completion_tokens

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _day(t: float) -> str:
    """The person's local calendar day of unix time ``t``: budgets reset at their midnight."""
    return time.strftime("%Y-%m-%d", time.localtime(t))
