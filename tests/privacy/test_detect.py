"""The detector on the corpus, case by case: every personal case is found (and named
right), every ordinary one is clean; redaction covers every secret."""

from __future__ import annotations

import pytest

from qira.privacy import PersonalData, detect_personal_data, redact, scan_texts
from tests.privacy.corpus import ORDINARY, PERSONAL


@pytest.mark.parametrize("case", PERSONAL, ids=lambda c: c.id)
def test_personal_data_is_found_and_named(case):
    scan = scan_texts(list(case.turns))
    assert PersonalData[case.kind] in scan.kinds
    assert scan.redactable is case.redactable
    if case.redactable:
        redacted = "\n".join(redact(list(case.turns), scan).texts)
        assert not [s for s in case.secrets if s in redacted]


@pytest.mark.parametrize("case", ORDINARY, ids=lambda c: c.id)
def test_ordinary_questions_are_clean(case):
    assert scan_texts(list(case.turns)).kinds == ()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("SSN 536-90-4399, call (212) 555-0199", {"ID_NUMBER", "PHONE"}),
        ("IBAN GB33BUKB20201555555555", {"ACCOUNT"}),
        ("my card 4539 1488 0343 6467 and my phone +351 912 345 678", {"CARD", "PHONE"}),
        ("Steuer-ID 65929970489", {"ID_NUMBER"}),
    ],
)
def test_reasons_name_the_right_kind(text, kind):
    assert {k.name for k in detect_personal_data(text)} == kind


def test_a_number_split_across_messages_is_seen_whole():
    halves = ["my card starts with 4539 1488", "and ends with 0343 6467"]
    assert [scan_texts([h]).kinds for h in halves] == [(), ()]
    scan = scan_texts(halves)
    assert scan.kinds == (PersonalData.CARD,)
    assert redact(halves, scan).texts == ("my card starts with <CARD_1>", "and ends with <CARD_2>")


def test_normalisation_maps_back_to_what_was_typed():
    text = (
        "write to ana\u200b.souza\u200b@example.com or mаrta at gmail dot com, card four five three nine one four "
        "eight eight zero three four three six four six seven"
    )
    scan = scan_texts([text])
    assert [i.kind.name for i in scan.items] == ["EMAIL", "EMAIL", "CARD"]
    assert [i.text for i in scan.items] == [
        "ana\u200b.souza\u200b@example.com",
        "mаrta at gmail dot com",
        "four five three nine one four eight eight zero three four three six four six seven",
    ]


def test_the_same_value_gets_the_same_placeholder():
    texts = ["call +44 20 7946 0958", "yes, +44 20 7946 0958 and ana@example.com"]
    r = redact(texts, scan_texts(texts))
    assert r.texts == ("call <PHONE_1>", "yes, <PHONE_1> and <EMAIL_1>")
    assert r.describe() == "2 items redacted: a phone number and an email address"
