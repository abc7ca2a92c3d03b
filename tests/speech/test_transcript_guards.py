"""Whisper's repetition loops are collapsed before a caption is made (sans model)."""

from __future__ import annotations

import pytest

from qira.speech._stt import collapse_repeats


@pytest.mark.parametrize(
    ("heard", "kept"),
    [
        ("What time is it? What time is it?", "What time is it?"),
        # looping until the length cap cut it mid-phrase
        (
            "Link won't be got to play a suha soda. Link won't be got to play a suha soda. Link won't be",
            "Link won't be got to play a suha soda.",
        ),
        ("thank you thank you thank you thank", "thank you"),
        # what people do say twice stays
        ("no, no", "no, no"),
        ("New York, New York", "New York, New York"),
        ("Where is the station?", "Where is the station?"),
        ("one two three one two", "one two three one two"),
    ],
)
def test_repeats(heard, kept):
    assert collapse_repeats(heard) == kept
