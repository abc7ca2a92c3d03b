"""Notes: short texts the person writes down and reads back. Kept in the skill's own storage."""

from __future__ import annotations

import time
from typing import Annotated

from qira.sdk import SkillContext, skill


@skill(
    description="Write down a note",
    examples=[
        "take a note: buy more coffee",
        "note that the meeting moved to Thursday",
        "add a note to call the plumber",
        "write down the gate code 4521",
        "jot down that the blue pen works best",
        "new note: ideas for the trip",
    ],
    patterns=["take a note {text}", "take a note: {text}", "take a note that {text}", "note: {text}",
              "note that {text}", "add a note {text}", "add a note: {text}", "add a note to {text}",
              "write down {text}", "jot down {text}", "new note: {text}", "new note {text}"],
)
async def note_add(ctx: SkillContext, text: Annotated[str, "the note"]) -> str:
    notes = await ctx.get("notes", [])
    notes.append({"text": text, "at": time.time(), "device": ctx.device.name})
    await ctx.put("notes", notes)
    return f"Noted ({len(notes)} notes): {text}"


@skill(
    description="Read back the person's notes",
    examples=["show my notes", "what are my notes", "read my notes", "list my notes", "what did I write down"],
    patterns=["show my notes", "what are my notes", "read my notes", "list my notes", "read me my notes"],
)
async def notes_list(ctx: SkillContext) -> str:
    notes = await ctx.get("notes", [])
    if not notes:
        return "You have no notes yet."
    return "Your notes:\n" + "\n".join(f"{i}. {n['text']}" for i, n in enumerate(notes, 1))


SKILLS = [note_add, notes_list]
