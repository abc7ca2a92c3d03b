"""Calling a skill's function, whatever its shape (async, async generator, plain)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ._context import SkillContext
from ._skill import Reply, Skill

__all__ = ["invoke"]

Chunk = Callable[[str], Awaitable[None]]


async def invoke(skill: Skill, ctx: SkillContext, arguments: Mapping[str, Any], on_chunk: Chunk | None = None) -> Reply:
    """Run the skill once and normalise what it gives back into a :class:`Reply`.

    Streamed chunks go to ``on_chunk`` as they come, and make up the reply's text."""
    handler = skill.handler
    if inspect.isasyncgenfunction(handler):
        chunks: list[str] = []
        async for chunk in handler(ctx, **arguments):
            text = str(chunk)
            chunks.append(text)
            if on_chunk is not None and text:
                await on_chunk(text)
        return Reply(text="".join(chunks).strip())
    if inspect.iscoroutinefunction(handler):
        result = await handler(ctx, **arguments)
    else:
        # A plain function may block: it runs in a worker thread, keeping the context vars.
        call = contextvars.copy_context().run
        result = await asyncio.to_thread(functools.partial(call, handler, ctx, **arguments))
    return _as_reply(result)


def _as_reply(result: Any) -> Reply:
    if isinstance(result, Reply):
        return result
    if result is None:
        return Reply(text="Done.")
    if isinstance(result, Mapping):
        return Reply(text=str(result.get("text", "")), data=dict(result))
    return Reply(text=str(result))
