"""audio.start payloads, which side spoke, and bad input at the wire edge."""

from __future__ import annotations

import pytest

from qira.errors import ProtocolError
from qira.speech import Mode, parse_start
from qira.speech._conversation import speaker_for


def test_a_translation_stream_with_defaults():
    spec = parse_start({"stream": "mic-1", "languages": ["en", "pt-BR"]})
    assert spec.mode is Mode.TRANSLATE and spec.languages == ("en", "pt") and spec.speak
    assert spec.format.as_json() == {"encoding": "s16le", "sample_rate": 16000, "channels": 1}
    assert spec.conversation.startswith("c_")
    assert speaker_for(spec, "en") == ("self", "pt")
    assert speaker_for(spec, "pt") == ("other", "en")


def test_voice_chat_takes_one_language():
    spec = parse_start(
        {
            "stream": "ptt",
            "languages": ["English"],
            "conversation": "c_1",
            "format": {"sample_rate": 48000, "channels": 2, "encoding": "f32le"},
            "speak": False,
        }
    )
    assert (spec.mode, spec.languages, spec.conversation, spec.speak) == (Mode.CHAT, ("en",), "c_1", False)
    assert spec.format.frame_bytes == 8
    assert speaker_for(spec, "en") == ("self", None)


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        ({"languages": ["en", "pt"]}, "stream"),
        ({"stream": "a b", "languages": ["en", "pt"]}, "stream"),
        ({"stream": "s", "languages": []}, "languages"),
        ({"stream": "s", "languages": "en:pt"}, "languages"),
        ({"stream": "s", "languages": ["en", "xx-klingon"]}, "unknown language"),
        ({"stream": "s", "languages": ["en", "en"]}, "two different languages"),
        ({"stream": "s", "languages": ["en", "pt"], "mode": "chat"}, "one language"),
        ({"stream": "s", "languages": ["en"], "mode": "dictate"}, "mode"),
        ({"stream": "s", "languages": ["en"], "format": {"encoding": "mp3"}}, "encoding"),
        ({"stream": "s", "languages": ["en"], "format": {"sample_rate": 4000}}, "sample_rate"),
        ({"stream": "s", "languages": ["en"], "format": {"channels": 6}}, "channels"),
        ({"stream": "s", "languages": ["en"], "format": {"bits": 16}}, "format field"),
        ({"stream": "s", "languages": ["en"], "speak": "yes"}, "speak"),
        ({"stream": "s", "languages": ["en"], "volume": 3}, "unknown field"),
    ],
)
def test_bad_payloads_name_the_field(payload, names):
    with pytest.raises(ProtocolError, match=names) as info:
        parse_start(payload)
    assert info.value.code == "invalid_params"
