"""Skills for planner tests, declared with the public SDK."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from qira.sdk import Permission, Risk, SkillContext, skill

calls: list[str] = []


@skill(
    description="Greet someone by name",
    examples=["say hi to Ana", "greet Bob", "say hello to my friend"],
    patterns=["say hi to {who}", "greet {who}"],
)
async def greet(ctx: SkillContext, who: Annotated[str, "who to greet"]) -> str:
    calls.append(f"greet:{who}")
    return f"Hello, {who}!"


@skill(
    description="Erase every file in the archive",
    examples=["wipe the archive", "erase the archive"],
    patterns=["wipe the archive"],
    risk=Risk.HIGH,
    summary="Erase the whole archive",
)
async def wipe(ctx: SkillContext) -> str:
    calls.append("wipe")
    return "Archive wiped."


@skill(description="A skill that crashes", examples=["crash the skill now"], patterns=["crash now"])
async def boom(ctx: SkillContext) -> str:
    raise RuntimeError("kaboom")


@skill(
    description="A skill that never finishes", examples=["hang the skill forever"], patterns=["hang now"], timeout_s=0.3
)
async def sleepy(ctx: SkillContext) -> str:
    await asyncio.sleep(60)
    return "never"


@skill(
    description="A blocking skill that never finishes",
    examples=["block the thread forever"],
    patterns=["block now"],
    timeout_s=0.3,
)
def blocker(ctx: SkillContext) -> str:
    time.sleep(1.0)
    return "late"


@skill(description="Peek into memories without permission", examples=["peek at my memories"], patterns=["peek now"])
async def peek(ctx: SkillContext) -> str:
    hits = await ctx.recall("anything")
    return f"saw {len(hits)}"


@skill(description="Count words as a stream", examples=["stream some words"], patterns=["stream now"])
async def streamer(ctx: SkillContext):
    for word in ("one ", "two ", "three"):
        yield word


@skill(
    description="Write a memory",
    examples=["store this memory"],
    patterns=["store {text}"],
    permissions=[Permission.MEMORY_WRITE],
)
async def store(ctx: SkillContext, text: str) -> str:
    m = await ctx.remember(text)
    return f"stored {m.id}"


ALL = [greet, wipe, boom, sleepy, blocker, peek, streamer, store]
