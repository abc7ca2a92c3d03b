"""Remember, recall and forget things about the person."""

from __future__ import annotations

from typing import Annotated

from qira.privacy import detect_personal_data
from qira.sdk import Permission, Risk, SkillContext, skill


@skill(
    description="Remember a fact or preference the person tells you",
    examples=[
        "remember that my sister's name is Ana",
        "remember I parked on level 3",
        "keep in mind that I'm allergic to peanuts",
        "don't forget that my passport expires in May",
        "please remember my wifi password is on the fridge",
        "make a note in your memory that I prefer window seats",
    ],
    patterns=["remember that {text}", "remember {text}", "keep in mind that {text}", "keep in mind {text}",
              "don't forget that {text}", "do not forget that {text}"],
    permissions=[Permission.MEMORY_WRITE],
    risk=Risk.LOW,
)
async def remember(ctx: SkillContext, text: Annotated[str, "the fact to remember, in the person's words"]) -> str:
    # Judge the whole message, not only the slot: the slot may be a mangled copy that a
    # detector misses ("my wifi password is hunter2" -> "wifi hunter2"). A memory written
    # from words that held personal data is private: it never goes to the cloud.
    private = bool(detect_personal_data(ctx.text) or detect_personal_data(text))
    memory = await ctx.remember(text, scope="private" if private else "shared")
    return f"Got it, I'll remember{' (privately: it stays on this hub)' if private else ''}: {memory.text}"


@skill(
    description="Say what you remember about a topic or person",
    examples=[
        "what do you know about my sister",
        "what do you remember about Ana",
        "do you remember where I parked",
        "what have I told you about work",
        "tell me what you know about my allergies",
        "what do you know about me",
    ],
    patterns=["what do you know about {topic}", "what do you remember about {topic}",
              "tell me what you know about {topic}", "what have i told you about {topic}",
              "do you remember {topic}"],
    permissions=[Permission.MEMORY_READ],
)
async def recall(ctx: SkillContext, topic: Annotated[str, "what to look up"]) -> str:
    hits = await ctx.recall(topic, k=5)
    if not hits:
        return f"I don't know anything about {topic} yet."
    lines = "\n".join(f"- {h.memory.text}" for h in hits)
    return f"Here is what I know about {topic}:\n{lines}"


@skill(
    description="Forget what you remember about a topic",
    examples=[
        "forget what I told you about my sister",
        "forget my wifi password",
        "delete the memory about where I parked",
        "erase what you know about my ex",
        "stop remembering my address",
    ],
    patterns=["forget what i told you about {topic}", "forget everything about {topic}",
              "forget about {topic}", "delete the memory about {topic}", "erase what you know about {topic}",
              "forget {topic}"],
    permissions=[Permission.MEMORY_READ, Permission.MEMORY_WRITE],
    risk=Risk.HIGH,
    summary="Forget what I remember about {topic}",
)
async def forget(ctx: SkillContext, topic: Annotated[str, "what to forget"]) -> str:
    hits = await ctx.recall(topic, k=5)
    words = {w.lower() for w in topic.split() if len(w) > 2}
    chosen = [h for h in hits if words & {w.strip(".,!?'").lower() for w in h.memory.text.split()}] or hits[:1]
    if not chosen:
        return f"I had nothing about {topic} to forget."
    for hit in chosen:
        await ctx.forget(hit.memory.id)
    return f"Forgotten ({len(chosen)}): " + "; ".join(h.memory.text for h in chosen)


SKILLS = [remember, recall, forget]
