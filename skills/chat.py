"""Small talk, through the hub's model (local unless the router decides otherwise)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from qira.sdk import SkillContext, skill

SYSTEM = "You are Qira, a friendly personal assistant. Reply in one or two short sentences."


@skill(
    description="Chat: greetings, thanks, how are you, jokes",
    examples=[
        "hi",
        "hello there",
        "good morning",
        "how are you",
        "thanks",
        "thank you so much",
        "tell me a joke",
        "who are you",
        "good night",
        "what's up",
        "hey",
        "bye",
        "see you later",
        "nice job",
        "you're funny",
        "how have you been",
        "good afternoon",
        "make me laugh",
        "what's your name",
        "thank you Qira",
        "that's awesome, thanks",
        "how are things",
        "i love you qira",
        "sup",
        "hey hey",
        "cheers, thanks",
        "how's your day",
        "you're the best",
        "good evening",
        "say something funny",
        "yo",
    ],
    read_only=True,
)
async def small_talk(ctx: SkillContext, text: Annotated[str, "what the person said"] = "") -> AsyncIterator[str]:
    async for chunk in ctx.stream(text or ctx.text, system=SYSTEM, max_tokens=80):
        yield chunk
