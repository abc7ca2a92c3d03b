"""Notes: short texts the person writes down and reads back. Kept in the skill's own storage."""

from __future__ import annotations

import time
from typing import Annotated

from qira.sdk import SkillContext, skill
from qira.sdk.words import plural


@skill(
    description="Write down a note",
    examples=[
        "take a note: buy more coffee",
        "note that the meeting moved to Thursday",
        "add a note to call the plumber",
        "write down the gate code 4521",
        "jot down that the blue pen works best",
        "new note: ideas for the trip",
        "make a note: the bins go out on Wednesday",
        "please write this down, the spare tyre is in the garage",
        "note to self: renew the car insurance",
        "add to my notes that Luis likes red wine",
        "save a note about the hotel, room 214",
        "can you note that the printer needs toner",
        "record a note: the kids' dentist is on Rua Augusta",
        "put down a note: buy a birthday card",
        "jot this: the alarm code changed",
        "create a note with the recipe for soup",
        "write a note saying I paid the rent",
        "take this down: order more printer paper",
        "quick note, the package is at the neighbour's",
        "note it down: Maria's number is 912 345 678",
        "can you keep a note of the parking level",
        "add this to my notes, the dog's food brand is Acana",
        "write that down please, flight leaves at 6",
        "note down: pick up dry cleaning",
        "write a quick note: the meeting link changed",
        "add this note, the wifi box is behind the tv",
        "take down a note that Rita owes me 20 euros",
        "please jot this: bring the charger",
        "make a quick note, call the insurer monday",
        "a note for later: try the new bakery",
        "write down that the car needs an oil change",
        "save this as a note: garage door code 8812",
        "put this in my notes, Joaquim's flat is 3B",
        "create a new note titled groceries: eggs, rice, apples",
        "add an entry to my notes: passport photos done",
        "could you note down the plumber's number 913 222 111",
        "scribble this down: ideas for the party",
        "log a note: printer fixed",
        "jot: return the library books",
    ],
    patterns=[
        "take a note {text}",
        "take a note: {text}",
        "take a note that {text}",
        "note: {text}",
        "note that {text}",
        "add a note {text}",
        "add a note: {text}",
        "add a note to {text}",
        "write down {text}",
        "jot down {text}",
        "new note: {text}",
        "new note {text}",
        "make a note: {text}",
        "make a note that {text}",
        "note to self: {text}",
        "add to my notes: {text}",
        "add to my notes that {text}",
    ],
    summary="save “{text}” as a note",
)
async def note_add(ctx: SkillContext, text: Annotated[str, "the note"]) -> str:
    notes = await ctx.get("notes", [])
    notes.append({"text": text, "at": time.time(), "device": ctx.device.name})
    await ctx.put("notes", notes)
    return f"Noted: {text} (you have {plural(len(notes), 'note')})."


@skill(
    description="Read back the person's notes",
    examples=[
        "show my notes",
        "what are my notes",
        "read my notes",
        "list my notes",
        "what did I write down",
        "let me see my notes",
        "what have I noted",
        "display all my notes",
        "read back what I wrote down",
        "which notes did I make",
        "tell me my notes",
        "any notes?",
        "check my notes",
        "show me what I noted",
        "read out my notes",
        "which notes have I got",
        "bring up my notes list",
        "how many notes have I got",
        "run through my notes for me",
        "recite my notes",
        "let's hear my notes",
        "display my notes",
        "did I write anything down?",
        "read the notes I saved",
    ],
    patterns=[
        "show my notes",
        "what are my notes",
        "read my notes",
        "list my notes",
        "read me my notes",
        "show notes",
        "list notes",
    ],
    read_only=True,
)
async def notes_list(ctx: SkillContext) -> str:
    notes = await ctx.get("notes", [])
    if not notes:
        return "You have no notes yet."
    return "Your notes:\n" + "\n".join(f"{i}. {n['text']}" for i, n in enumerate(notes, 1))


SKILLS = [note_add, notes_list]
