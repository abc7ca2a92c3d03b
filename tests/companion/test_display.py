"""Answers shaped by the display capability (sans-I/O: the shape for a device's capabilities)."""

from __future__ import annotations

import pytest

from qira.agent._display import NARROW_PX, WIDE_PX, shape_for


def test_a_narrow_screen_gets_short_answers_and_a_wide_one_more_detail():
    narrow = shape_for({"display": {"width": 390, "height": 844, "resizable": True}})
    wide = shape_for({"display": {"width": 1920, "height": 1080, "resizable": True}})
    assert narrow.max_tokens is not None and wide.max_tokens is not None
    assert narrow.max_tokens < wide.max_tokens
    assert "narrow screen (390 px" in narrow.hint and "wide screen (1920 px" in wide.hint


def test_between_the_two_and_without_a_display_nothing_changes():
    assert shape_for({"display": {"width": (NARROW_PX + WIDE_PX) // 2, "height": 900}}).max_tokens is None
    assert shape_for({}).max_tokens is None and shape_for({}).hint == ""
    assert shape_for({"screen": True, "battery": 0.5}).hint == ""


@pytest.mark.parametrize(
    "display",
    [
        None,
        "wide",
        390,
        [],
        {"width": "390"},
        {"width": True},
        {"width": -5},
        {"width": float("inf")},
        {"height": 800},
        {"width": 10**9},
    ],
)
def test_a_malformed_display_is_ignored(display):
    assert shape_for({"display": display}) == shape_for({})


def test_a_wide_screen_alone_does_not_send_a_turn_to_the_cloud():
    from qira.config import InferenceConfig

    wide = shape_for({"display": {"width": 3840, "height": 2160}})
    assert wide.max_tokens is not None and wide.max_tokens <= InferenceConfig().cloud_answer_tokens
