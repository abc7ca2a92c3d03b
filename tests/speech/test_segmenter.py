"""The sans-I/O utterance cutter, driven with made-up speech probabilities (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from qira.speech import EventKind, Segmenter, SegmenterSettings
from qira.speech._segmenter import RATE, WINDOW

WIN_S = WINDOW / RATE


def run(probs: list[float], settings: SegmenterSettings | None = None, *, flush: bool = True):
    seg = Segmenter(settings)
    events = []
    for i, p in enumerate(probs):
        window = np.full(WINDOW, i, dtype=np.float32)  # each window carries its index, to check the audio
        events += seg.push(window, p)
    if flush:
        events += seg.flush()
    return events


def windows(seconds: float) -> int:
    return round(seconds / WIN_S)


def test_silence_and_short_bursts_make_no_utterance():
    assert run([0.01] * windows(3)) == []
    # a 0.1 s click between silences is below min_speech_s
    assert run([0.0] * 20 + [0.9] * windows(0.1) + [0.0] * 40) == []


def test_an_utterance_is_cut_after_the_silence_with_padding_and_partials():
    s = SegmenterSettings()
    probs = [0.0] * 30 + [0.95] * windows(2.3) + [0.02] * windows(1.0)
    events = run(probs, flush=False)
    kinds = [e.kind for e in events]
    assert kinds[0] is EventKind.STARTED and kinds[-1] is EventKind.FINAL
    assert kinds.count(EventKind.FINAL) == 1
    assert kinds.count(EventKind.PARTIAL) == 2  # at 0.5 s and 1.5 s of speech
    final = events[-1]
    first_speech = 30 * WINDOW
    pad = round(s.pad_s / WIN_S) * WINDOW
    assert final.start == first_speech - pad  # pre-roll kept
    assert final.speech_end == first_speech + windows(2.3) * WINDOW
    assert final.end == final.speech_end + pad  # only pad_s of the trailing silence
    assert final.audio is not None and len(final.audio) == final.end - final.start
    assert final.audio[0] == final.start // WINDOW  # the audio is the stream's, in order
    assert final.utterance == 1


def test_a_sentence_pause_does_not_end_the_utterance_but_a_longer_silence_does():
    probs = [0.9] * windows(1) + [0.0] * windows(0.35) + [0.9] * windows(1) + [0.0] * windows(0.6)
    probs += [0.9] * windows(1) + [0.0] * windows(1)
    finals = [e for e in run(probs) if e.kind is EventKind.FINAL]
    assert [f.utterance for f in finals] == [1, 2]


def test_flush_turns_pending_speech_into_a_final():
    events = run([0.9] * windows(1.2))
    assert [e.kind for e in events][-1] is EventKind.FINAL
    assert run([0.9] * windows(1.2), flush=False)[-1].kind is not EventKind.FINAL


def test_a_monologue_is_cut_at_max_utterance_and_goes_on():
    settings = SegmenterSettings(max_utterance_s=3.0)
    finals = [e for e in run([0.9] * windows(7.5), settings) if e.kind is EventKind.FINAL]
    assert len(finals) == 3 and all(len(f.audio) <= windows(3.0) * WINDOW for f in finals)


def test_hysteresis_keeps_a_dip_inside_speech():
    # dips to 0.4 (above threshold - 0.15) do not count as silence
    probs = [0.9] * windows(1) + [0.4] * windows(0.8) + [0.9] * windows(1) + [0.0] * windows(1)
    assert len([e for e in run(probs) if e.kind is EventKind.FINAL]) == 1


def test_windows_must_be_whole():
    with pytest.raises(ValueError):
        Segmenter().push(np.zeros(100, dtype=np.float32), 0.5)
