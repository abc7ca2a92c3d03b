"""Declaring a skill: JSON schema from type hints, argument coercion, patterns, the
permission gate of the context."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import pytest

from qira.errors import PermissionDenied
from qira.sdk import InvalidArguments, Permission, Reply, Risk, SkillContext, skill
from qira.sdk.testing import FakeHost


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


@skill(
    description="Everything a parameter can be",
    examples=["try all types"],
    patterns=["try {city} in {unit}"],
    risk="high",
    summary="Look up {city}",
)
async def kitchen_sink(
    ctx: SkillContext,
    city: Annotated[str, "the city"],
    days: int = 1,
    ratio: float = 0.5,
    loud: bool = False,
    unit: Unit = Unit.C,
    mood: Literal["calm", "busy"] = "calm",
    tags: list[str] | None = None,
    note: str | None = None,
) -> Reply:
    return Reply(text=f"{city} {days} {ratio} {loud} {unit.value} {mood} {tags} {note}", data={"city": city})


def test_schema_from_type_hints():
    schema = kitchen_sink.tool_schema()["function"]
    props = schema["parameters"]["properties"]
    assert schema["name"] == "kitchen_sink" and schema["description"] == "Everything a parameter can be"
    assert props["city"] == {"type": "string", "description": "the city"}
    assert props["days"] == {"type": "integer"} and props["ratio"] == {"type": "number"}
    assert props["loud"] == {"type": "boolean"}
    assert props["unit"] == {"type": "string", "enum": ["celsius", "fahrenheit"]}
    assert props["mood"] == {"type": "string", "enum": ["calm", "busy"]}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["note"] == {"type": "string"}
    assert schema["parameters"]["required"] == ["city"]
    assert schema["parameters"]["additionalProperties"] is False
    assert kitchen_sink.risk is Risk.HIGH and kitchen_sink.risk.needs_approval


def test_arguments_are_coerced_from_slot_text():
    args = kitchen_sink.coerce(
        {
            "city": " Porto ",
            "days": "3",
            "ratio": "0.25",
            "loud": "yes",
            "unit": "fahrenheit",
            "mood": "BUSY",
            "tags": "a, b",
        }
    )
    assert args == {
        "city": "Porto",
        "days": 3,
        "ratio": 0.25,
        "loud": True,
        "unit": Unit.F,
        "mood": "busy",
        "tags": ["a", "b"],
        "note": None,
    }
    reply = FakeHost().call(kitchen_sink, city="Lisbon")
    assert reply.text.startswith("Lisbon 1 0.5 False celsius calm") and reply.data == {"city": "Lisbon"}
    assert kitchen_sink.describe({"city": "Faro"}) == "Look up Faro"


@pytest.mark.parametrize(
    "bad",
    [
        {"days": 2},
        {"city": "x", "days": "many"},
        {"city": "x", "mood": "sad"},
        {"city": "x", "nope": 1},
        {"city": "x", "loud": "perhaps"},
    ],
)
def test_bad_arguments_are_refused_clearly(bad):
    with pytest.raises(InvalidArguments):
        kitchen_sink.coerce(bad)


def test_patterns_fill_slots():
    regex = kitchen_sink.pattern_regexes()[0]
    assert regex.fullmatch("try Rio de Janeiro  in celsius").groupdict() == {
        "city": "Rio de Janeiro",
        "unit": "celsius",
    }


def test_declaration_mistakes_fail_at_import_time():
    with pytest.raises(ValueError, match="lowercase"):
        skill(name="Bad-Name", description="x")(_plain)
    with pytest.raises(ValueError, match="description"):
        skill(name="ok", description="  ")(_plain)
    with pytest.raises(ValueError, match="unknown parameters"):
        skill(name="ok", description="x", patterns=["do {thing}"])(_plain)
    with pytest.raises(TypeError, match="type hint"):
        skill(name="ok", description="x")(lambda ctx, what: None)
    with pytest.raises(TypeError, match="unsupported parameter type"):
        skill(name="ok", description="x")(_dicty)


async def _plain(ctx: SkillContext) -> str:
    return "plain"


async def _dicty(ctx: SkillContext, data: dict) -> str:
    return "no"


@skill(description="Reads memory", permissions=[Permission.MEMORY_READ])
async def reader(ctx: SkillContext) -> str:
    return f"{len(await ctx.recall('tea'))} hits"


def test_the_context_gives_only_what_is_granted():
    host = FakeHost()
    assert FakeHost().call(reader).text == "0 hits"
    with pytest.raises(PermissionDenied, match="not granted the 'memory.read' permission"):
        host.call(reader, grants=[])


@skill(description="Streams")
async def streamer(ctx: SkillContext):
    yield "a"
    yield "b"


@skill(description="Blocking")
def blocking(ctx: SkillContext, n: int = 2) -> str:
    return "x" * n


@skill(description="Returns nothing")
async def silent(ctx: SkillContext) -> None:
    return None


def test_every_handler_shape_gives_a_reply():
    host = FakeHost()
    assert host.call(streamer).text == "ab" and streamer.streams
    assert host.call(blocking, n=3).text == "xxx"
    assert host.call(silent).text == "Done."
