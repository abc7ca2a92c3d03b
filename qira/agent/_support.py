"""Small helpers of the agent: chat.send validation, approval payloads, transactions."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ProtocolError

log = logging.getLogger("qira.agent")

THREAD_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,80}$")
MAX_TEXT = 8000


def _pending_text(summary: str, approval_id: str) -> str:
    return (
        f"Waiting for your approval on your devices: {summary}. Approve it there and it will be done "
        f"(approval {approval_id})."
    )


def _approval_payload(row: Any) -> dict[str, Any]:
    return {
        "approval": row["id"],
        "skill": row["skill"],
        "summary": row["summary"],
        "risk": row["risk"],
        "expires_at": row["expires_at"],
        "thread": row["thread"],
        "turn": row["turn"],
        "status": row["status"],
    }


def _import_langgraph() -> None:
    import langgraph.checkpoint.sqlite.aio  # noqa: F401
    import langgraph.graph  # noqa: F401
    import langgraph.types  # noqa: F401


def _validated(payload: Mapping[str, Any]) -> tuple[str, str | None]:
    text, thread = payload.get("text"), payload.get("thread")
    if not isinstance(text, str) or not text.strip():
        raise ProtocolError("chat.send needs non-empty text", code="invalid_params")
    if len(text) > MAX_TEXT:
        raise ProtocolError(f"chat.send text is longer than {MAX_TEXT} characters", code="invalid_params")
    if thread is not None and (not isinstance(thread, str) or not THREAD_ID.match(thread)):
        raise ProtocolError("thread must be 1-80 letters, digits or _.:-", code="invalid_params")
    return text, thread


def _in_tx(conn: Any, fn: Callable[[Any], Any]) -> Any:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("agent task %s failed", task.get_name(), exc_info=task.exception())
