"""Rule-based fact extraction from what the person says."""

from __future__ import annotations

import pytest

from qira.memory import Extractor, MemoryKind, RuleExtractor, extract_facts


@pytest.mark.parametrize(
    ("said", "text", "kind"),
    [
        ("Remember that the wifi password is on the fridge.", "The wifi password is on the fridge", MemoryKind.FACT),
        ("please remember my locker is 117", "My locker is 117", MemoryKind.FACT),
        ("My sister's birthday is May 3", "My sister's birthday is May 3", MemoryKind.FACT),
        ("Oh and my mom's birthday is on the 4th of July", "My mom's birthday is 4th of July", MemoryKind.FACT),
        ("I don't eat meat", "I don't eat meat", MemoryKind.PREFERENCE),
        ("I never drink coffee after lunch.", "I don't drink coffee after lunch", MemoryKind.PREFERENCE),
        ("I'm vegetarian", "I am vegetarian", MemoryKind.PREFERENCE),
        ("I am allergic to peanuts", "I am allergic to peanuts", MemoryKind.FACT),
        ("My dog is called Biscuit", "My dog is Biscuit", MemoryKind.FACT),
        ("I live in Lisbon", "I live in Lisbon", MemoryKind.FACT),
        ("I really love sailing", "I love sailing", MemoryKind.PREFERENCE),
    ],
)
def test_rules_find_stated_facts(said, text, kind):
    facts = extract_facts(said)
    assert [(f.text, f.kind) for f in facts] == [(text, kind)]
    assert 0 < facts[0].importance <= 1 and facts[0].rule


@pytest.mark.parametrize(
    "said",
    ["What's the weather like?", "Is my sister's birthday May 3?", "ok", "", "Turn the lights off", "Do I eat meat?"],
)
def test_questions_and_commands_state_nothing(said):
    assert extract_facts(said) == []


def test_several_sentences_and_the_interface():
    facts = RuleExtractor().extract("I'm vegan. My brother is called Rui. What time is it?")
    assert [f.rule for f in facts] == ["diet", "relation"]
    assert isinstance(RuleExtractor(), Extractor)
