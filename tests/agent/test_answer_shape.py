"""The shaping of model answers: the local model's loop guard, a wearable's whole words,
the relevance cutoff for memories, and the honest line for requests beyond the local model."""

from __future__ import annotations

from qira.agent._answer import BEYOND_LOCAL, WearableBuffer, beyond_local, grounding, relevant_memories
from qira.inference._local_chat import RepeatGuard


def stream(guard: RepeatGuard, text: str, step: int = 3) -> str:
    out = ""
    for i in range(0, len(text), step):
        out += guard.feed(text[i : i + step])
        if guard.looping:
            break
    return out + guard.flush()


def test_a_looping_answer_stops_before_the_repeat_is_shown():
    guard = RepeatGuard()
    out = stream(guard, "You prefer green tea. You like it warm. You prefer green tea. You prefer green tea.")
    assert guard.looping and out == "You prefer green tea. You like it warm."
    words = RepeatGuard()
    assert stream(words, "tea " * 20, step=4).count("tea") < 7 and words.looping


def test_an_honest_answer_passes_whole():
    guard = RepeatGuard()
    text = "Paris is the capital of France. It lies on the Seine. Yes. Yes."
    assert stream(guard, text) == text and not guard.looping


def test_a_wearable_never_gets_half_a_word():
    buffer = WearableBuffer(280)
    sent = "".join(buffer.feed(piece) for piece in ["The tide ri", "ses twice a day. The mo", "on pulls the wat"])
    assert sent == "The tide rises twice a day. The moon pulls the "
    rest, whole = buffer.finish(cut_short=True)  # the length limit cut it: keep the whole sentence
    assert rest == "" and whole == "The tide rises twice a day."
    done = WearableBuffer(280)
    assert done.feed("All good") == "All "
    assert done.finish(cut_short=False) == ("good", "All good")


def test_only_relevant_memories_ground_the_answer():
    hits = [
        {"text": "I live in Coimbra", "similarity": 0.62},
        {"text": "My cat is Pixel", "similarity": 0.31},
        {"text": "I work in Porto", "similarity": 0.44},
    ]
    kept = [h["text"] for h in relevant_memories(hits)]
    assert kept == ["I live in Coimbra"]  # Porto is too far behind the best, the cat too far away
    assert "Coimbra" in grounding(relevant_memories(hits)) and grounding([]) == ""


def test_requests_beyond_the_small_local_model_get_one_honest_line():
    local = {"target": "local", "reasons": ["no gigafactory endpoint is configured"]}
    assert beyond_local("write an essay about the roman empire", local, personal=False)
    assert beyond_local("Summarize this: " + "words " * 100, local, personal=False)
    assert not beyond_local("what is the capital of France", local, personal=False)
    assert not beyond_local("write an essay about the roman empire", {"target": "cloud"}, personal=False)
    assert "[inference.cloud]" in BEYOND_LOCAL and "model_path" in BEYOND_LOCAL
