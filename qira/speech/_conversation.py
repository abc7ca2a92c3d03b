"""The wire edge of the speech pipeline, without I/O: ``audio.start`` payloads checked
into a :class:`StreamSpec`, which side spoke, and the caption and transcript records."""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ProtocolError
from ._audio import ENCODINGS, StreamFormat
from ._languages import normalize_language

__all__ = ["Mode", "StreamSpec", "caption_payload", "parse_start", "speaker_for", "transcript_line", "CONVERSATION_ID"]

STREAM_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,80}$")
_START_FIELDS = {"stream", "mode", "languages", "format", "conversation", "speak"}


class Mode(enum.StrEnum):
    TRANSLATE = "translate"  # two people, two languages: caption and speak each side in the other's
    CHAT = "chat"  # push-to-talk to Qira: the words become a chat.send, the answer comes back spoken


@dataclass(frozen=True, kw_only=True)
class StreamSpec:
    stream: str
    mode: Mode
    languages: tuple[str, ...]  # translate: (the wearer's, the other person's); chat: (the person's,)
    format: StreamFormat
    conversation: str
    speak: bool


def _invalid(message: str) -> ProtocolError:
    return ProtocolError(message, code="invalid_params")


def parse_start(payload: Mapping[str, Any]) -> StreamSpec:
    """Check an ``audio.start`` payload; raises ProtocolError ``invalid_params`` naming the field."""
    unknown = set(payload) - _START_FIELDS
    if unknown:
        raise _invalid(f"audio.start: unknown field(s) {', '.join(sorted(unknown))}")
    stream = payload.get("stream")
    if not isinstance(stream, str) or not STREAM_ID.match(stream):
        raise _invalid("audio.start: stream must be 1-64 characters of A-Z a-z 0-9 _ . : -")
    raw_langs = payload.get("languages")
    if (
        not isinstance(raw_langs, list)
        or not 1 <= len(raw_langs) <= 2
        or not all(isinstance(x, str) for x in raw_langs)
    ):
        raise _invalid('audio.start: languages must be a list of one or two language codes, e.g. ["en", "pt"]')
    languages: list[str] = []
    for raw in raw_langs:
        code = normalize_language(raw)
        if code is None:
            raise _invalid(f"audio.start: unknown language {raw!r} (use codes such as en, pt, es, fr)")
        languages.append(code)
    mode_raw = payload.get("mode", Mode.TRANSLATE.value if len(languages) == 2 else Mode.CHAT.value)
    try:
        mode = Mode(mode_raw)
    except ValueError:
        raise _invalid(f"audio.start: mode must be translate or chat, got {mode_raw!r}") from None
    if mode is Mode.TRANSLATE and (len(languages) != 2 or languages[0] == languages[1]):
        raise _invalid("audio.start: translate mode needs two different languages: [yours, the other person's]")
    if mode is Mode.CHAT and len(languages) != 1:
        raise _invalid("audio.start: chat mode takes one language: the one you speak")
    fmt = _parse_format(payload.get("format", {}))
    conversation = payload.get("conversation")
    if conversation is None:
        conversation = "c_" + secrets.token_hex(6)
    elif not isinstance(conversation, str) or not CONVERSATION_ID.match(conversation):
        raise _invalid("audio.start: conversation must be 1-80 characters of A-Z a-z 0-9 _ . : -")
    speak = payload.get("speak", True)
    if not isinstance(speak, bool):
        raise _invalid("audio.start: speak must be true or false")
    return StreamSpec(
        stream=stream, mode=mode, languages=tuple(languages), format=fmt, conversation=conversation, speak=speak
    )


def _parse_format(raw: Any) -> StreamFormat:
    if not isinstance(raw, Mapping):
        raise _invalid("audio.start: format must be an object")
    unknown = set(raw) - {"encoding", "sample_rate", "channels"}
    if unknown:
        raise _invalid(f"audio.start: unknown format field(s) {', '.join(sorted(unknown))}")
    encoding = raw.get("encoding", "s16le")
    rate = raw.get("sample_rate", 16_000)
    channels = raw.get("channels", 1)
    if encoding not in ENCODINGS:
        raise _invalid(f"audio.start: encoding must be one of {', '.join(sorted(ENCODINGS))}, got {encoding!r}")
    if isinstance(rate, bool) or not isinstance(rate, int) or not 8_000 <= rate <= 48_000:
        raise _invalid("audio.start: sample_rate must be an integer from 8000 to 48000")
    if isinstance(channels, bool) or channels not in (1, 2):
        raise _invalid("audio.start: channels must be 1 or 2")
    return StreamFormat(encoding=encoding, sample_rate=rate, channels=channels)


def speaker_for(spec: StreamSpec, language: str) -> tuple[str, str | None]:
    """Who spoke, told by the language heard -> (speaker, the language to translate into)."""
    if spec.mode is Mode.CHAT:
        return "self", None
    mine, theirs = spec.languages
    if language == theirs:
        return "other", mine
    return "self", theirs


def caption_payload(
    *,
    spec: StreamSpec,
    device: str,
    utterance: int,
    final: bool,
    speaker: str,
    language: str,
    text: str,
    target: str | None = None,
    translation: str | None = None,
    engine: str = "none",
    notice: str | None = None,
    start_s: float,
    end_s: float,
) -> dict[str, Any]:
    return {
        "stream": spec.stream,
        "conversation": spec.conversation,
        "device": device,
        "mode": spec.mode.value,
        "utterance": utterance,
        "final": final,
        "speaker": speaker,
        "language": language,
        "text": text,
        "target_language": target,
        "translation": translation,
        "engine": engine,
        "notice": notice,
        "start_s": round(start_s, 3),
        "end_s": round(end_s, 3),
    }


def transcript_line(caption: Mapping[str, Any], at: float) -> dict[str, Any]:
    """One line of a conversation's thread: both languages, who spoke, when."""
    return {
        "speaker": caption["speaker"],
        "language": caption["language"],
        "text": caption["text"],
        "target_language": caption["target_language"],
        "translation": caption["translation"],
        "stream": caption["stream"],
        "utterance": caption["utterance"],
        "at": round(at, 3),
    }
