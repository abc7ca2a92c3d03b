"""The time and the date, in the hub's local time zone."""

from __future__ import annotations

from qira.sdk import SkillContext, skill


@skill(
    description="Tell the current time",
    examples=[
        "what time is it",
        "what's the time",
        "tell me the time",
        "do you have the time",
        "time please",
        "what's the time now",
        "got the time?",
        "the time, please",
        "could you check the time",
        "what o'clock is it",
        "how late is it now",
        "what hour is it",
        "is it noon yet",
        "clock check",
        "what's the current time",
        "quick time check",
        "do you know what time it is",
        "tell me the hour",
    ],
    patterns=[
        "what time is it",
        "what's the time",
        "what is the time",
        "tell me the time",
        "time",
        "what time is it now",
        "what's the time now",
        "what is the time now",
        "current time",
    ],
    read_only=True,
)
async def time_now(ctx: SkillContext) -> str:
    now = ctx.now()
    return f"It's {now:%H:%M} ({now:%Z})."


@skill(
    description="Tell today's date and day of the week",
    examples=[
        "what's the date",
        "what day is it today",
        "what's today's date",
        "which day of the week is it",
        "what is the date today",
        "what's the date today",
        "what's the day today",
        "today is what date",
        "which month is it",
        "what year are we in",
        "is it monday today",
        "what weekday is it",
        "tell me today's date",
        "what date are we on",
        "what day of the month is it",
        "date today?",
        "what's today",
    ],
    patterns=[
        "what's the date",
        "what is the date",
        "what day is it",
        "what day is it today",
        "what's today's date",
        "what is today's date",
        "date",
        "what's the date today",
        "what is the date today",
    ],
    read_only=True,
)
async def date_today(ctx: SkillContext) -> str:
    now = ctx.now()
    return f"Today is {now:%A, %d %B %Y}."


SKILLS = [time_now, date_today]
