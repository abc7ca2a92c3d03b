"""Placeholders back into a streamed answer: split across chunks, repeated, reordered, restyled."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from qira.privacy import Restorer

VALUES = {
    "PERSON_1": "Ana Lima",
    "PHONE_1": "+44 20 7946 0958",
    "EMAIL_1": "ana.lima@example.com",
    "PHONE_12": "(212) 555-0199",
}
ANSWER = (
    "Sure! Call <PHONE_1> (not <PHONE_12>) and write to [EMAIL_1]; PERSON_1 is fine. Again: <PHONE_1>, "
    "&lt;email_1&gt;, < PERSON_1 >, {PHONE_12}. Text with <b>tags</b>, a [link], 3 < 4 and & done."
)
EXPECTED = (
    "Sure! Call +44 20 7946 0958 (not (212) 555-0199) and write to ana.lima@example.com; Ana Lima is fine. "
    "Again: +44 20 7946 0958, ana.lima@example.com, Ana Lima, (212) 555-0199. Text with <b>tags</b>, a [link], "
    "3 < 4 and & done."
)


def stream(restorer: Restorer, chunks: list[str]) -> str:
    return "".join(restorer.feed(c) for c in chunks) + restorer.flush()


def test_whole_answer():
    assert Restorer(VALUES).restore(ANSWER) == EXPECTED


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=200), st.randoms())
def test_any_chunking_gives_the_same_text(sizes, rnd):
    chunks, i = [], 0
    while i < len(ANSWER):
        n = sizes[len(chunks) % len(sizes)]
        chunks.append(ANSWER[i : i + n])
        i += n
    assert stream(Restorer(VALUES), chunks) == EXPECTED


def test_character_by_character():
    assert stream(Restorer(VALUES), list(ANSWER)) == EXPECTED


def test_nothing_held_back_without_placeholders():
    r = Restorer({})
    assert r.feed("<PHO") == "<PHO" and r.flush() == ""


def test_text_is_not_held_longer_than_needed():
    r = Restorer(VALUES)
    assert r.feed("Hello there, ") == "Hello there, "
    assert r.feed("call <PHO") == "call "
    assert r.feed("NE_1> now") == "+44 20 7946 0958 now"


def test_json_arguments_are_escaped():
    r = Restorer({"PERSON_1": 'Ana "Bia" Lima'})
    assert r.restore('{"who": "<PERSON_1>"}', json_string=True) == '{"who": "Ana \\"Bia\\" Lima"}'


def test_random_model_output_round_trips():
    rng = random.Random(5)
    names = list(VALUES)
    for _ in range(200):
        picked = [rng.choice(names) for _ in range(rng.randint(1, 6))]
        answer = " and ".join(f"<{n}>" for n in picked)
        chunks, i = [], 0
        while i < len(answer):
            n = rng.randint(1, 4)
            chunks.append(answer[i : i + n])
            i += n
        assert stream(Restorer(VALUES), chunks) == " and ".join(VALUES[n] for n in picked)
