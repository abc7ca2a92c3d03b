"""Reminders and timers, delivered by the proactive loop to the device the person is using."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

from qira.sdk import Permission, SkillContext, skill

_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
            "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45,
            "fifty": 50, "sixty": 60, "ninety": 90, "a couple of": 2, "a few": 3}
_UNITS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60, "minute": 60,
          "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?|a couple of|a few|forty-five|[a-z]+)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?)\b")
_CLOCK = re.compile(r"^(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$")
_TAIL = re.compile(r"^.*?remind me to (?P<text>.+) (?P<when>(?:in|at) .+?)$", re.IGNORECASE)
_CONTEXT = re.compile(r"^(?:when\s+)?i(?:'m| am)?\s+(?:get\s+(?:to\s+|back\s+)?|arrive\s+(?:at\s+)?|at\s+|am\s+at\s+|reach\s+)(?:the\s+)?(.+)$")


def parse_delay(text: str) -> float | None:
    """ "2 seconds", "in ten minutes", "1 hour 30 minutes", "half an hour", "90s" -> seconds."""
    t = text.lower().strip().removeprefix("in ").replace(" and ", " ").replace(",", " ").strip()
    if t in ("half an hour", "a half hour", "half hour"):
        return 1800.0
    total, found = 0.0, False
    for amount, unit in _AMOUNT.findall(t):
        value = float(amount) if amount[0].isdigit() else _NUMBERS.get(amount)
        if value is None:
            return None
        total += value * _UNITS[unit]
        found = True
    if _AMOUNT.sub("", t).strip():
        return None  # words that are not a duration ("with Bob in 5 minutes"): not a clean delay
    return total if found and total > 0 else None


def parse_clock(text: str, now: datetime) -> datetime | None:
    """ "5pm", "at 17:30", "9 am" -> the next such moment."""
    m = _CLOCK.match(text.lower().strip())
    if not m:
        return None
    hour, minute, half = int(m.group(1)), int(m.group(2) or 0), m.group(3)
    if half == "pm" and hour < 12:
        hour += 12
    if half == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def parse_place(text: str) -> str | None:
    """ "when I get home", "I'm at the office" -> the place a context event will name."""
    m = _CONTEXT.match(text.lower().strip())
    return m.group(1).strip() if m else None


@skill(
    description="Remind the person of something later: after a delay, at a time, or when they get somewhere",
    examples=[
        "remind me in 10 minutes to call mom",
        "remind me to take the pizza out in 15 minutes",
        "remind me at 5pm to water the plants",
        "remind me to buy milk when I get to the store",
        "set a reminder for 8am to check the oven",
        "can you remind me to stretch in an hour",
    ],
    patterns=["remind me in {when} to {text}", "remind me to {text} in {when}", "remind me at {when} to {text}",
              "remind me to {text} at {when}", "remind me to {text} when {when}", "set a reminder for {when} to {text}",
              "set a reminder in {when} to {text}", "remind me {when} to {text}"],
    permissions=[Permission.NOTIFY],
)
async def remind(ctx: SkillContext, text: Annotated[str, "what to remind of"],
                 when: Annotated[str, "a delay ('10 minutes'), a time ('5pm') or a place ('when I get home')"]) -> str:
    text = text.strip()
    if not (parse_place(when) or parse_delay(when) or parse_clock(when, ctx.now())):
        # A pattern split at the first " in "/" at " ("check" + "with Bob in 5 minutes"): the
        # time is usually at the end, so split the person's words at the last one instead.
        m = _TAIL.match(ctx.text.strip().rstrip(".!?"))
        if m and (parse_delay(m.group("when")) or parse_clock(m.group("when"), ctx.now())):
            text, when = m.group("text"), m.group("when")
    place = parse_place(when)
    if place:
        await ctx.schedule(text, on_context=("place", place), title="Reminder")
        return f"OK, I'll remind you to {text} when you get to {place}."
    delay = parse_delay(when)
    if delay is not None:
        item = await ctx.schedule(text, delay_s=delay, title="Reminder")
        return f"OK, I'll remind you to {text} {_in_words(delay)} (at {datetime.fromtimestamp(item.due_at):%H:%M:%S})."
    at = parse_clock(when, ctx.now())
    if at is not None:
        await ctx.schedule(text, at=at, title="Reminder")
        return f"OK, I'll remind you to {text} at {at:%H:%M}."
    return f"I didn't understand when to remind you ('{when}'). Try 'in 10 minutes' or 'at 5pm'."


@skill(
    description="Start a countdown timer",
    examples=["set a timer for 5 minutes", "timer for 30 seconds", "start a 10 minute timer", "countdown 2 minutes",
              "set an egg timer for 7 minutes"],
    patterns=["set a timer for {duration}", "set an egg timer for {duration}", "timer for {duration}",
              "start a {duration} timer", "start a timer for {duration}", "{duration} timer", "countdown {duration}"],
    permissions=[Permission.NOTIFY],
)
async def timer(ctx: SkillContext, duration: Annotated[str, "how long, e.g. '5 minutes'"]) -> str:
    seconds = parse_delay(duration.replace("-", " "))
    if seconds is None:
        return f"I couldn't read '{duration}' as a duration."
    length = _in_words(seconds).removeprefix("in ")
    await ctx.schedule(f"Your {length} timer is done.", delay_s=seconds, title="Timer", kind="timer")
    return f"Timer set for {length}."


@skill(
    description="List pending reminders and timers",
    examples=["what are my reminders", "list my reminders", "what timers do I have", "show my reminders",
              "do I have any reminders"],
    patterns=["what are my reminders", "list my reminders", "show my reminders", "what timers do i have"],
    permissions=[Permission.NOTIFY],
)
async def reminders_list(ctx: SkillContext) -> str:
    items = await ctx.scheduled()
    if not items:
        return "You have no reminders or timers."
    lines = []
    for item in items:
        when = f"when you get to {item.on_context[1]}" if item.on_context else f"at {datetime.fromtimestamp(item.due_at):%H:%M}"
        lines.append(f"- {item.text} ({item.kind}, {when})")
    return "Pending:\n" + "\n".join(lines)


def _in_words(seconds: float) -> str:
    seconds = int(round(seconds))
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"in {n} {unit}{'s' if n != 1 else ''}"
    return f"in {seconds} seconds"


SKILLS = [remind, timer, reminders_list]
