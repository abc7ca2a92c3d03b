"""Wiring the speech service to the rest of the hub (called from ``qira/hub.py``):
settings from ``[speech]``, cloud translation through the inference router, voice
chat through the agent, remembering through the memory store."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..config import SpeechConfig
from ..devices import DeviceInfo
from ..errors import EndpointError, InferenceError, ProtocolError, SpeechError, TranslationUnavailable
from ._languages import language_name
from ._segmenter import SegmenterSettings
from ._service import SpeechService, SpeechSettings
from ._stt import TranscriberSettings
from ._transcripts import DocTranscripts
from ._translate import CloudTranslate, Translator

__all__ = ["build_speech"]


def build_speech(
    cfg: SpeechConfig, base: SpeechSettings, *, sync: Any, inference: Any, agent: Any, memory: Any
) -> SpeechService:
    settings = dataclasses.replace(
        base,
        segmenter=SegmenterSettings(
            threshold=cfg.vad_threshold,
            min_speech_s=cfg.min_speech_s,
            min_silence_s=cfg.min_silence_s,
            max_utterance_s=cfg.max_utterance_s,
            partial_every_s=cfg.partial_every_s,
        ),
        transcriber=TranscriberSettings(
            threads=cfg.stt_threads,
            workers=cfg.stt_workers,
            beam_size=cfg.beam_size,
            no_speech_threshold=cfg.no_speech_threshold,
            logprob_threshold=cfg.logprob_threshold,
            compression_ratio_threshold=cfg.compression_ratio_threshold,
        ),
        max_streams_per_device=cfg.max_streams_per_device,
        tts_rate_wpm=cfg.tts_rate_wpm,
    )
    cloud = _cloud_translate(inference) if cfg.cloud_translation and inference.cloud is not None else None
    translator = Translator(cloud=cloud, use_apertium=cfg.apertium)

    async def ask(device: DeviceInfo, text: str, thread: str | None) -> tuple[str, str | None]:
        # A turn of the device like a typed one: chat.done reaches its devices (after an
        # approval too), the thread is in the threads document; the answer is spoken.
        try:
            thread, answer = await agent.say(device, text, thread=thread)
        except ProtocolError as exc:  # the thread waits for an approval: say so
            return str(exc), thread
        return answer.text, thread

    async def remember(device: DeviceInfo, text: str, scope: str) -> str:
        result = await memory.add(text, kind="episode", scope=scope, device=device.id, importance=0.6, actor=device.id)
        return str(result.memory.id)

    return SpeechService(
        settings, gateway=sync, translator=translator, transcripts=DocTranscripts(sync), ask=ask, remember=remember
    )


def _cloud_translate(inference: Any) -> CloudTranslate:
    from ..inference import ChatMessage, ChatRequest, Target

    async def translate(text: str, source: str, target: str) -> str:
        prompt = (
            f"Translate this {language_name(source)} text into {language_name(target)}. "
            f"Reply with the translation only.\n\n{text}"
        )
        # intent_confidence 0: an open-ended request, which the router sends to the cloud
        # unless the policy (local-only), the privacy rule, the breaker or the budget say no.
        request = ChatRequest(
            messages=[ChatMessage(role="user", content=prompt)], max_tokens=200, temperature=0.2, intent_confidence=0.0
        )
        decision = inference.route(request)
        if decision.target is not Target.CLOUD:
            raise TranslationUnavailable("; ".join(decision.reasons))
        turn = inference.chat(request)
        try:
            answer = await turn.text()
        except (EndpointError, InferenceError) as exc:
            raise SpeechError(str(exc)) from exc
        if getattr(turn, "answered_by", Target.CLOUD) is not Target.CLOUD:
            # the endpoint failed and the small local model answered: not a translation to trust
            raise SpeechError("the gigafactory endpoint failed")
        return answer

    return translate
