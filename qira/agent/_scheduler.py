"""The proactive loop: reminders and timers due at a time, triggers waiting for a
context event. Everything pending is in SQLite, so it survives a hub restart."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

from ..sdk import Scheduled
from ._db import AgentDB

__all__ = ["Scheduler"]

log = logging.getLogger("qira.agent.scheduler")

TRIGGER_DUE = 1e18  # stands for "no time": a context trigger waits for its event
RETRY_S = 5.0

Deliver = Callable[[Scheduled], Awaitable[str | None]]
# Told of every change to a reminder (the item, its status: pending/delivered/cancelled), so
# the shared ``reminders`` document can show them (docs/protocol.md, "Shared documents").
Changed = Callable[[Scheduled, str], Awaitable[None]]


class Scheduler:
    def __init__(self, db: AgentDB, deliver: Deliver, changed: Changed | None = None) -> None:
        self._db = db
        self._deliver = deliver
        self._changed = changed
        self._wake = asyncio.Event()

    async def _tell(self, item: Scheduled, status: str) -> None:
        if self._changed is not None:
            try:
                await self._changed(item, status)
            except Exception:  # the reminder itself is stored; its copy in a document is a convenience
                log.warning("could not record reminder %s as %s", item.id, status, exc_info=True)

    async def add(self, item: Scheduled, *, origin_device: str | None = None, skill: str | None = None) -> Scheduled:
        item = replace(item, id=item.id or uuid.uuid4().hex[:12])
        due = TRIGGER_DUE if item.on_context else item.due_at
        context = "=".join(item.on_context) if item.on_context else None
        await self._db.run(
            lambda c: c.execute(
                "INSERT INTO schedule (id, due_at, title, text, kind, device, origin_device, skill, status, trigger)"
                " VALUES (?,?,?,?,?,?,?,?, 'pending', ?)",
                (item.id, due, item.title, item.text, item.kind, item.device, origin_device, skill, context),
            )
        )
        self._wake.set()
        await self._tell(item, "pending")
        return item

    async def pending(self) -> list[Scheduled]:
        rows = await self._db.run(
            lambda c: c.execute("SELECT * FROM schedule WHERE status = 'pending' ORDER BY due_at").fetchall()
        )
        return [_item(r) for r in rows]

    async def cancel(self, item_id: str) -> bool:
        rows = await self._db.run(lambda c: c.execute("SELECT * FROM schedule WHERE id = ?", (item_id,)).fetchall())
        cur = await self._db.run(
            lambda c: c.execute(
                "UPDATE schedule SET status = 'cancelled' WHERE id = ? AND status = 'pending'", (item_id,)
            )
        )
        if cur.rowcount > 0 and rows:
            await self._tell(_item(rows[0]), "cancelled")
        return cur.rowcount > 0

    async def context_event(self, kind: str, value: str) -> int:
        """Fire the triggers waiting for this context (``place`` = ``home``)."""
        wanted = f"{kind}={value}".lower()
        waiting = [i for i in await self.pending() if i.on_context and "=".join(i.on_context).lower() == wanted]
        for item in waiting:
            await self._fire(item)
        return len(waiting)

    async def run(self) -> None:
        while True:
            try:
                delay = await self._fire_due()
            except Exception:  # the loop must outlive one bad delivery
                log.exception("proactive loop failed a round")
                delay = RETRY_S
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def _fire_due(self) -> float:
        """Deliver everything due; return how long to sleep."""
        now = time.time()
        rows = await self._db.run(
            lambda c: c.execute(
                "SELECT * FROM schedule WHERE status = 'pending' AND due_at < ? ORDER BY due_at", (TRIGGER_DUE,)
            ).fetchall()
        )
        next_due = 3600.0
        for row in rows:
            item = _item(row)
            if item.due_at <= now:
                if not await self._fire(item):
                    next_due = min(next_due, RETRY_S)
            else:
                next_due = min(next_due, item.due_at - now)
        return max(next_due, 0.01)

    async def _fire(self, item: Scheduled) -> bool:
        try:
            target = await self._deliver(item)
        except Exception as exc:  # no device reachable right now: try again shortly
            log.warning("could not deliver %s %s: %s", item.kind, item.id, exc)
            return False
        await self._db.run(
            lambda c: c.execute(
                "UPDATE schedule SET status = 'delivered', delivered_to = ?, delivered_at = ? WHERE id = ?",
                (target, time.time(), item.id),
            )
        )
        await self._tell(item, "delivered")
        return True


def _item(row) -> Scheduled:
    context = None
    if row["trigger"]:
        kind, _, value = row["trigger"].partition("=")
        context = (kind, value)
    return Scheduled(
        id=row["id"],
        due_at=row["due_at"],
        title=row["title"],
        text=row["text"],
        kind=row["kind"],
        device=row["device"],
        on_context=context,
    )
