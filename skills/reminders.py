"""Reminders and timers, delivered by the proactive loop to the device the person is using.

Times are read by ``dateparser`` ("tomorrow at 9", "next Friday at noon", "Monday
morning", "at 5pm EST"); short delays ("in 10 minutes", "half an hour") and places
("when I get home") by the small parsers here, which are exact where dateparser guesses.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

from qira.sdk import Permission, SkillContext, skill
from qira.sdk.words import arrival, duration, plural, your

_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "a couple of": 2,
    "a few": 3,
}
_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "day": 86400,
    "days": 86400,
}
_AMOUNT = re.compile(
    r"(\d+(?:\.\d+)?|a couple of|a few|forty-five|[a-z]+)\s*"
    r"(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?)\b"
)
_CLOCK = re.compile(r"^(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?$")
_BARE_HOUR = re.compile(r"\b(at|by)\s+(\d{1,2})\b(?!\s*(?::|\d|am\b|pm\b|a\.m|p\.m|o'clock))")
_HAS_TIME = re.compile(r"\d|noon|midnight|morning|afternoon|evening|tonight|night", re.IGNORECASE)
_TAIL = re.compile(r"^.*?remind me to (?P<text>.+) (?P<when>(?:in|at|on|by|tomorrow|next) .+?)$", re.IGNORECASE)
_CONTEXT = re.compile(
    r"^(?:when\s+)?i(?:'m| am)?\s+(?:get\s+(?:to\s+|back\s+)?|arrive\s+(?:at\s+)?|at\s+|am\s+at\s+"
    r"|reach\s+)(?:the\s+)?(.+)$"
)
_LEAD = re.compile(
    r"^(?:please\s+)?(?:(?:can|could|would) you\s+)?(?:create|set|add|make|i need|give me|put in)?\s*"
    r"(?:a\s+)?(?:reminder|remind me|ping me|nudge me|tell me)\s*(?:for|to|that|about|:)?\s*",
    re.IGNORECASE,
)
DEFAULT_HOUR = 9  # "on Sunday" with no time: in the morning


def parse_delay(text: str) -> float | None:
    """ "2 seconds", "in ten minutes", "1 hour 30 minutes", "half an hour", "90s" -> seconds."""
    t = text.lower().strip().removeprefix("in ").replace(" and ", " ").replace(",", " ").replace("-", " ").strip()
    t = t.replace("forty five", "forty-five")
    if t in ("half an hour", "a half hour", "half hour", "half a hour"):
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
    """ "5pm", "at 17:30", "9 am" -> the next such moment. A bare hour ("at 6") is the
    next 6 o'clock, morning or evening."""
    m = _CLOCK.match(text.lower().strip())
    if not m:
        return None
    hour, minute, half = int(m.group(1)), int(m.group(2) or 0), (m.group(3) or "").replace(".", "")
    if half == "pm" and hour < 12:
        hour += 12
    if half == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if not half and m.group(2) is None and 1 <= hour <= 11 and at <= now:
        at = at + timedelta(hours=12)  # "at 6" at 16:00 is 18:00, not tomorrow morning
    return at if at > now else at + timedelta(days=1)


def parse_time(text: str, now: datetime) -> datetime | None:
    """A moment in words: "tomorrow at 9", "next Friday at noon", "Monday morning",
    "Thursday at 3pm", "at 5pm EST" (converted to the hub's time zone). None if unreadable
    or already past."""
    t = " ".join(text.lower().split()).strip(" .,!?")
    if not t:
        return None
    clock = parse_clock(t, now)
    if clock is not None:
        return clock
    import dateparser  # about 0.3 s to import: only when a reminder needs it

    spelled = _BARE_HOUR.sub(lambda m: f"{m.group(1)} {m.group(2)}:00", t)
    found = dateparser.parse(
        spelled,
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": now.replace(tzinfo=None),
            "RETURN_AS_TIMEZONE_AWARE": True,
            "PREFER_DAY_OF_MONTH": "first",
        },
    )
    if found is None:
        return None
    if found.tzinfo is None:
        found = found.replace(tzinfo=now.tzinfo)
    found = found.astimezone(now.tzinfo)
    if not _HAS_TIME.search(t):
        found = found.replace(hour=DEFAULT_HOUR, minute=0, second=0, microsecond=0)
    return found if found > now else None


def parse_place(text: str) -> str | None:
    """ "when I get home", "I'm at the office" -> the place a context event will name."""
    m = _CONTEXT.match(text.lower().strip())
    return m.group(1).strip() if m else None


def find_when(utterance: str, now: datetime) -> tuple[str, str] | None:
    """(what, when) from a whole utterance no pattern split: "create a reminder: dentist on
    Thursday at 3pm" -> ("dentist", "on Thursday at 3pm")."""
    place = re.search(r"\bwhen i (?:get|arrive|reach|am at|'m at)\b.*$", utterance, re.IGNORECASE)
    if place:
        spans = [(place.group(0), place.start(), place.end())]
    else:
        from dateparser.search import search_dates

        hits = (
            search_dates(
                utterance,
                languages=["en"],
                settings={"PREFER_DATES_FROM": "future", "RELATIVE_BASE": now.replace(tzinfo=None)},
            )
            or []
        )
        spans = []
        for phrase, _ in hits:
            phrase = re.sub(r"\s+(?:about|to|for|the|that)(?:\s+the)?$", "", phrase.strip())
            start = utterance.find(phrase)
            if start >= 0:
                spans.append((phrase, start, start + len(phrase)))
    if not spans:
        return None
    phrase, start, end = spans[-1]
    rest = (utterance[:start] + " " + utterance[end:]).strip(" .,!?:")
    rest = _LEAD.sub("", " ".join(rest.split())).strip(" .,!?:")
    rest = re.sub(r"^(?:to|about|that)\s+", "", rest, flags=re.IGNORECASE)
    return (rest or "do what you asked"), phrase


def _understood(when: str, now: datetime) -> bool:
    return bool(parse_place(when) or parse_delay(when) or parse_time(when, now))


def _when_slot(value: str) -> str | None:
    """A pattern's ``when`` slot must read as a delay, a time or a place."""
    now = datetime.now().astimezone()
    return value if _understood(value, now) else None


@skill(
    description="Remind the person of something later: after a delay, at a time or date, or when they get somewhere",
    examples=[
        "remind me in 10 minutes to call mom",
        "remind me to take the pizza out in 15 minutes",
        "remind me at 5pm to water the plants",
        "remind me to buy milk when I get to the store",
        "set a reminder for 8am to check the oven",
        "can you remind me to stretch in an hour",
        "remind me tomorrow to renew my passport",
        "remind me on Saturday at 10 to mow the lawn",
        "remind me next Tuesday to book the restaurant",
        "reminder to pay the electricity bill on the 15th",
        "set a reminder to send the report tomorrow at noon",
        "alert me in 20 minutes to check the laundry",
        "remind me this evening to lock the back door",
        "please remind me at half past six to feed the cat",
        "add a reminder for Friday: submit timesheet",
        "give me a reminder in 3 hours to take my medicine",
        "remind me when I'm at the office to print the tickets",
        "remind me at 8 tonight to call Rui",
        "buzz me in 15 minutes to check the bread",
        "send me a reminder tomorrow morning about the car wash",
        "let me know in an hour that the meeting starts",
        "remind me about the dentist on Thursday",
        "tell me in 30 minutes to take the clothes out",
        "I need to be reminded to call the vet at 4",
        "make a reminder for tomorrow to pay the gas bill",
        "remind me to call the bank on monday morning",
        "set me a reminder for 4pm: school pickup",
        "remind me in twenty minutes that the tea is ready",
        "reminder at 7 to take my pills",
        "could you remind me when I get home to charge my phone",
        "poke me at noon to eat lunch",
        "make sure I remember to call Ana tonight",
        "alert me tomorrow at 9 about the dentist",
        "shout at me in 10 minutes to get up",
        "I need a reminder next week to renew the gym membership",
        "tell me to leave at 5:30",
        "when I arrive at work remind me to print the slides",
        "give me a heads up at 2 about the delivery",
        "remind me in the evening to back up my laptop",
        "reminder for Sunday: call grandpa",
        "don't let me forget to pay the water bill on Friday",
    ],
    patterns=[
        "remind me in {when} to {text}",
        "remind me to {text} in {when}",
        "remind me at {when} to {text}",
        "remind me to {text} at {when}",
        "remind me to {text} when {when}",
        "set a reminder for {when} to {text}",
        "set a reminder in {when} to {text}",
        "set a reminder to {text} {when}",
        "remind me {when} to {text}",
        "remind me to {text} {when}",
    ],
    permissions=[Permission.NOTIFY],
    slots={"when": _when_slot},
    summary="set a reminder to {text} ({when})",
)
async def remind(
    ctx: SkillContext,
    text: Annotated[str, "what to remind of"] = "",
    when: Annotated[
        str, "a delay ('10 minutes'), a time ('tomorrow at 9', 'next Friday at noon') or a place ('when I get home')"
    ] = "",
) -> str:
    now = ctx.now()
    text = text.strip()
    if not when or not _understood(when, now):
        # A pattern that split at the first " in "/" at " ("check" + "with Bob in 5 minutes"), or
        # no pattern at all: the time is usually at the end, so look for it in the person's words.
        m = _TAIL.match(ctx.text.strip().rstrip(".!?"))
        if m and _understood(m.group("when"), now):
            text, when = m.group("text"), m.group("when")
        elif not when or not text:
            found = find_when(ctx.text or f"remind me to {text} {when}", now)
            if found is not None and _understood(found[1], now):
                text, when = (text or found[0]), found[1]
    if not text:
        text = "what you asked"
    where = _where(ctx)
    place = parse_place(when)
    if place:
        await ctx.schedule(text, on_context=("place", place), title="Reminder")
        return f"OK, I'll remind you to {text} {arrival(place)}, on the device that tells me you're there."
    delay = parse_delay(when)
    if delay is not None:
        at = now + timedelta(seconds=delay)
        await ctx.schedule(text, delay_s=delay, title="Reminder")
        return f"OK, I'll remind you to {text} {_in_words(delay)} (at {_clock(at, now)}), {where}."
    due = parse_time(when, now) if when else None
    if due is not None:
        at = due
        await ctx.schedule(text, at=at, title="Reminder")
        return f"OK, I'll remind you to {text} {_day(at, now)} at {_clock(at, now)}, {where}."
    return (
        f"I didn't understand when to remind you ('{when}'). Try 'in 10 minutes', 'at 5pm', "
        "'tomorrow at 9' or 'when I get home'."
    )


def _where(ctx: SkillContext) -> str:
    """Which device it will reach: the one the person is using then (named now when known)."""
    return f"on whichever device you're using then (now {your(ctx.device.name)})"


def _clock(at: datetime, now: datetime) -> str:
    zone = at.strftime("%Z")
    return f"{at:%H:%M}" + (f" {zone}" if zone and zone != "UTC" or at.utcoffset() != now.utcoffset() else "")


def _day(at: datetime, now: datetime) -> str:
    days = (at.date() - now.date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days < 7:
        return f"on {at:%A}"
    return f"on {at:%A, %d %B}"


@skill(
    description="Start a countdown timer",
    examples=[
        "set a timer for 5 minutes",
        "timer for 30 seconds",
        "start a 10 minute timer",
        "countdown 2 minutes",
        "set an egg timer for 7 minutes",
        "set a 20 second timer",
        "start the timer for an hour and a half",
        "count down from 15 minutes",
        "time me for 10 minutes",
        "begin a timer of 40 seconds",
        "1 minute timer please",
        "timer 3 min",
        "can you set a timer, 9 minutes",
        "put a timer on for 12 minutes",
        "set a countdown of 45 seconds",
        "timer: 4 minutes",
        "run a 2 minute timer",
        "i need a 20 minute timer",
        "kitchen timer 7 min",
        "three minute timer for the tea",
        "set the timer to 50 seconds",
        "start counting down 10 minutes",
        "give me a timer of half an hour",
    ],
    patterns=[
        "set a timer for {duration}",
        "set an egg timer for {duration}",
        "timer for {duration}",
        "start a {duration} timer",
        "start a timer for {duration}",
        "{duration} timer",
        "countdown {duration}",
        "set a {duration} timer",
        "timer {duration}",
        "set timer {duration}",
        "set timer for {duration}",
    ],
    permissions=[Permission.NOTIFY],
    slots={"duration": lambda value: parse_delay(value.replace("-", " "))},
    summary="start a {duration} timer",
)
async def timer(ctx: SkillContext, duration: Annotated[str, "how long, e.g. '5 minutes'"] = "") -> str:
    seconds = parse_delay(duration.replace("-", " ")) if duration else None
    if seconds is None:
        m = re.search(
            r"(\d+(?:\.\d+)?|an?|one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty|thirty|"
            r"forty|fifty|sixty|ninety)[\s-]*(seconds?|secs?|minutes?|mins?|hours?|hrs?)\b",
            ctx.text.lower(),
        )
        seconds = parse_delay(m.group(0).replace("-", " ")) if m else None
        duration = m.group(0) if m else duration
    if seconds is None:
        return f"I couldn't read '{duration}' as a duration. Try 'a timer for 5 minutes'."
    await ctx.schedule(
        f"Your {_length_adjective(seconds)} timer is done.", delay_s=seconds, title="Timer", kind="timer"
    )
    return f"Timer set for {_in_words(seconds).removeprefix('in ')}, {_where(ctx)}."


@skill(
    description="List pending reminders and timers",
    examples=[
        "what are my reminders",
        "list my reminders",
        "what timers do I have",
        "show my reminders",
        "do I have any reminders",
        "what have I asked you to remind me of",
        "any timers going",
        "tell me my upcoming reminders",
        "which reminders are set",
        "are any timers running",
        "what's scheduled for me",
        "what reminders are coming up",
        "is there a timer going",
        "how long until my timer goes off",
        "what did I set reminders for",
        "read me my reminders",
        "check my timers",
        "anything on my reminder list?",
        "which timers have I set",
        "do I have a reminder for tomorrow",
        "when's my next reminder",
    ],
    patterns=[
        "what are my reminders",
        "list my reminders",
        "show my reminders",
        "what timers do i have",
        "show my timers",
        "list my timers",
    ],
    permissions=[Permission.NOTIFY],
    read_only=True,
)
async def reminders_list(ctx: SkillContext) -> str:
    items = await ctx.scheduled()
    if not items:
        return "You have no reminders or timers."
    now = ctx.now()
    lines = []
    for item in items:
        if item.on_context:
            when = arrival(item.on_context[1])
        else:
            at = datetime.fromtimestamp(item.due_at, tz=now.tzinfo)
            when = f"{_day(at, now)} at {_clock(at, now)}"
        lines.append(f"- {item.text} ({item.kind}, {when})")
    return f"You have {plural(len(items), 'reminder or timer', 'reminders and timers')} pending:\n" + "\n".join(lines)


def _in_words(seconds: float) -> str:
    seconds = int(round(seconds))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size and seconds % size == 0:
            return f"in {plural(seconds // size, unit)}"
    minutes, secs = divmod(seconds, 60)
    if minutes and seconds < 3600:
        return f"in {plural(minutes, 'minute')} {plural(secs, 'second')}"
    hours, rest = divmod(seconds, 3600)
    return f"in {plural(hours, 'hour')} {plural(rest // 60, 'minute')}"


def _length_adjective(seconds: float) -> str:
    """ "10-second", "5-minute", "1-hour" (how a timer is named), "90-second" when uneven."""
    seconds = int(round(seconds))
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            return duration(seconds // size, unit)
    return duration(seconds, "second")


SKILLS = [remind, timer, reminders_list]
