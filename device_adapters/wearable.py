"""The wearable adapter (real-time translation mode): microphone and earpiece, no screen.

``qira device run --kind wearable --translate en:pt --mic SOURCE`` streams SOURCE
to the hub in real time — a WAV file, ``-`` for standard input (WAV, or raw 16 kHz
mono s16le), or ``mic`` for the sound card through ``sounddevice`` — announcing it
with ``audio.start``; prints one line per final caption; writes the speech the hub
sends back to ``--speech-out DIR`` (or plays it with ``--play``). Without
``--translate`` the same stream is push-to-talk voice chat with Qira. With a file
or stdin it exits once the last caption (and its speech) has arrived. What the
wearable notices (``--context place=the market``) goes to the hub as context events
while it streams: memory and the reminders waiting for that place go on as usual,
and a reminder that fires is printed like a caption.

If the connection drops mid-stream the hub still captions what it heard (the
final caption comes on resume); the adapter reconnects, opens a new stream in the
same conversation and goes on from where the audio is now, as a live microphone
would. Plain terminal mode (no ``--mic``) stays available: ``/audio STREAM FILE``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import threading
import time
import wave
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from qira.errors import QiraError
from qira.sdk.words import plural

from ._profiles import PROFILES
from ._terminal import AUDIO_CHUNK_BYTES, run_terminal
from .session import DeviceSession, SessionEvent

__all__ = ["AUDIO_CHUNK_BYTES", "KIND", "PROFILE", "run_terminal", "run_wearable"]

KIND = "wearable"
PROFILE = PROFILES[KIND]

_CHUNK_S = 0.1  # 100 ms of audio a frame: ten frames a second, well inside the rate limit
_READY_TIMEOUT_S = 60.0
_FINISH_TIMEOUT_S = 120.0  # after the last audio, how long to wait for the last captions
_SPEECH_WAIT_S = 10.0


class _Source:
    """PCM from a WAV file, standard input or the sound card, with its format."""

    def __init__(self, spec: str, stdin: BinaryIO) -> None:
        self.spec = spec
        self.live = spec == "mic" or spec.startswith("mic:")
        self.rate, self.channels, self.width = 16_000, 1, 2
        self._reader: Any = None
        if self.live:
            _check_microphone(spec)  # before connecting: no stream is opened for a sound card that is not there
            return
        raw = stdin if spec == "-" else None
        if raw is None:
            try:
                self._reader = wave.open(spec, "rb")  # noqa: SIM115 - closed in close()
            except (OSError, wave.Error, EOFError) as exc:
                raise QiraError(f"--mic {spec}: not a readable WAV file ({exc})") from exc
        else:
            head = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
            if head == b"RIFF":
                try:
                    self._reader = wave.open(raw, "rb")  # noqa: SIM115
                except (wave.Error, EOFError) as exc:
                    raise QiraError(f"--mic -: standard input is not a readable WAV stream ({exc})") from exc
            else:
                self._raw = raw
        if self._reader is not None:
            self.rate, self.channels, self.width = (
                self._reader.getframerate(),
                self._reader.getnchannels(),
                self._reader.getsampwidth(),
            )
            if self.width != 2:
                raise QiraError(f"--mic {spec}: {8 * self.width}-bit audio; 16-bit PCM WAV expected")

    @property
    def format(self) -> dict[str, Any]:
        return {"encoding": "s16le", "sample_rate": self.rate, "channels": self.channels}

    @property
    def bytes_per_second(self) -> int:
        return self.rate * self.channels * self.width

    def read(self, size: int) -> bytes:
        if self._reader is not None:
            return bytes(self._reader.readframes(size // (self.channels * self.width)))
        data = b""
        while len(data) < size:  # a pipe hands out what it has: fill the chunk
            more = self._raw.read(size - len(data))
            if not more:
                break
            data += more
        return data

    async def chunks(self) -> AsyncIterator[bytes]:
        size = int(self.bytes_per_second * _CHUNK_S)
        size -= size % (self.channels * self.width)
        if self.live:
            async for chunk in _microphone(self.spec, self.rate, size):
                yield chunk
            return
        while True:
            chunk = await asyncio.to_thread(self.read, size)
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def _sounddevice() -> Any:
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: the package is there, PortAudio is not
        raise QiraError(
            "--mic mic needs a sound card and the sounddevice package (with PortAudio); pass a WAV file or - instead"
        ) from exc
    return sounddevice


def _mic_device(spec: str) -> int | str | None:
    device = spec.partition(":")[2] or None
    return int(device) if device and device.isdigit() else device


def _check_microphone(spec: str) -> None:
    sounddevice = _sounddevice()
    try:
        sounddevice.query_devices(_mic_device(spec), kind="input")
    except Exception as exc:  # PortAudioError or ValueError: no input device, or no such one
        raise QiraError(f"--mic {spec}: no microphone found ({exc}); pass a WAV file or - instead") from exc


async def _microphone(spec: str, rate: int, size: int) -> AsyncIterator[bytes]:
    sounddevice = _sounddevice()
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    def callback(indata: Any, _frames: int, _time: Any, _status: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, bytes(indata))

    try:
        stream = sounddevice.RawInputStream(
            samplerate=rate,
            channels=1,
            dtype="int16",
            blocksize=size // 2,
            device=_mic_device(spec),
            callback=callback,
        )
    except Exception as exc:  # PortAudio errors: no device, busy device
        raise QiraError(f"cannot open the microphone: {exc}") from exc
    with stream:
        while True:
            yield await queue.get()


class _Wearable:
    def __init__(
        self,
        *,
        languages: list[str],
        conversation: str | None,
        speech_out: Path | None,
        play: bool,
        json_lines: bool,
        out: TextIO,
        context: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.languages = languages
        self.context = list(context)
        self.conversation = conversation
        self.speech_out = speech_out
        self.play = play
        self.json_lines = json_lines
        self.out = out
        self.session: DeviceSession | None = None
        self.streams: list[str] = []  # every stream this run opened
        self.ended: set[str] = set()  # streams whose every caption has arrived (audio.ended)
        self.captions = 0
        self._speech: dict[str, dict[str, Any]] = {}  # output stream -> {"meta", "data", "done"}
        self._changed = asyncio.Event()
        self._prefix = f"mic-{secrets.token_hex(3)}"
        self._context_sent: asyncio.Task[None] | None = None

    # events from the hub
    def __call__(self, event: SessionEvent) -> None:
        kind = event.get("type")
        if kind == "audio":
            self._audio(event)  # chunks of speech: summed up by one speech.saved line
            return
        if self.json_lines:
            self._write(json.dumps(event, ensure_ascii=False, default=str))
        if kind == "caption" and event.get("final"):
            self.captions += 1
            if not self.json_lines:
                self._write(_caption_line(event))
        elif kind == "audio.ended":
            self.ended.add(str(event.get("stream")))
        elif kind == "speech":
            self._speech[str(event.get("stream"))] = {"meta": event, "data": bytearray(), "done": False}
        elif kind == "notify" and not self.json_lines:
            self._write(f"[{event.get('kind') or 'notice'}] {event.get('title')}: {event.get('text')}")
        elif kind in ("session.closed", "audio.error") and not self.json_lines:
            self._write(f"[{kind}] {event.get('message') or event.get('reason') or event.get('code')}")
        self._changed.set()

    def _audio(self, event: SessionEvent) -> None:
        entry = self._speech.get(str(event.get("stream")))
        if entry is None or entry["done"]:
            return
        entry["data"] += event.get("data", b"")
        if len(entry["data"]) >= int(entry["meta"].get("bytes", 0)):
            entry["done"] = True
            self._deliver_speech(entry)

    def _deliver_speech(self, entry: dict[str, Any]) -> None:
        meta, data = entry["meta"], bytes(entry["data"])
        rate = int(meta.get("format", {}).get("sample_rate", 16_000))
        if self.speech_out is not None:
            self.speech_out.mkdir(parents=True, exist_ok=True)
            path = self.speech_out / f"{meta.get('stream')}.wav"
            with wave.open(str(path), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(rate)
                wav.writeframes(data)
            if self.json_lines:
                self._write(
                    json.dumps(
                        {
                            "type": "speech.saved",
                            "stream": meta.get("stream"),
                            "path": str(path),
                            "language": meta.get("language"),
                            "bytes": len(data),
                        }
                    )
                )
        if self.play:
            threading.Thread(target=_play, args=(data, rate), daemon=True).start()

    def _write(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    # the stream
    async def open_stream(self, source: _Source) -> str:
        assert self.session is not None
        stream = f"{self._prefix}-{len(self.streams) + 1}"
        payload: dict[str, Any] = {
            "stream": stream,
            "languages": self.languages,
            "format": source.format,
            "mode": "translate" if len(self.languages) == 2 else "chat",
        }
        if self.conversation:
            payload["conversation"] = self.conversation
        result = await self.session.request("audio.start", payload, timeout=_READY_TIMEOUT_S)
        self.conversation = str(result.get("conversation"))
        self.streams.append(stream)
        notice = result.get("notice")
        if notice and not self.json_lines:
            self._write(f"[notice] {notice}")
        return stream

    async def stream(self, source: _Source) -> None:
        session = self.session
        assert session is not None
        stream = await self.open_stream(source)
        if self.context and self._context_sent is None:
            # situational awareness stays on while translating: the hub feeds memory and
            # fires the reminders waiting for this context as the audio goes on
            self._context_sent = asyncio.ensure_future(self._send_context())
        seq, sent_s, started, resumed = 0, 0.0, time.monotonic(), False
        async for chunk in source.chunks():
            duration = len(chunk) / source.bytes_per_second
            if not session.connected:
                # Live audio waits for no one: what is said while offline is lost, the
                # hub captions what it heard before the cut, and a new stream goes on.
                await session.wait_ready(_READY_TIMEOUT_S)
                stream, seq, resumed = await self.open_stream(source), 0, True
            if resumed and not source.live and time.monotonic() - started > sent_s + duration:
                sent_s += duration  # a file skips what "played" while the connection was down
                continue
            resumed = False
            session.send_audio(stream, seq, chunk)
            seq += 1
            sent_s += duration
            if not source.live:  # real time: a file is paced like the microphone it stands for
                delay = started + sent_s - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        if session.connected:
            try:
                await session.request("audio.stop", {"stream": stream}, timeout=_FINISH_TIMEOUT_S)
            except QiraError as exc:
                self._write(f"[audio.stop] {exc}")

    async def _send_context(self) -> None:
        assert self.session is not None
        for kind, value in self.context:
            try:
                result = await self.session.request(
                    "context.event", {"kind": kind, "value": value}, timeout=_READY_TIMEOUT_S
                )
            except (QiraError, TimeoutError) as exc:
                self._write(f"[context] {kind}={value}: {exc}")
                continue
            if self.json_lines:
                self._write(json.dumps({"type": "context.sent", "kind": kind, "value": value, "result": result}))
            else:
                fired = int(result.get("triggered") or 0)
                self._write(
                    f"[context] {kind}={value}" + (f" ({plural(fired, 'reminder')} delivered)" if fired else "")
                )

    async def finish(self) -> bool:
        """Until every stream's captions (and their speech) have arrived."""
        if self._context_sent is not None:
            await self._context_sent
        deadline = time.monotonic() + _FINISH_TIMEOUT_S
        while not set(self.streams) <= self.ended:
            if time.monotonic() > deadline:
                return False
            self._changed.clear()
            await _wait(self._changed, 0.5)
        speech_deadline = time.monotonic() + _SPEECH_WAIT_S
        while any(not e["done"] for e in self._speech.values()) and time.monotonic() < speech_deadline:
            self._changed.clear()
            await _wait(self._changed, 0.2)
        return True


async def _wait(event: asyncio.Event, timeout: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pass


def _caption_line(event: SessionEvent) -> str:
    speaker = {"self": "me", "other": "them", "qira": "qira"}.get(str(event.get("speaker")), "?")
    line = f"[{speaker} {event.get('language')}] {event.get('text')}"
    if event.get("translation"):
        line += f" => [{event.get('target_language')}] {event.get('translation')}"
    elif event.get("notice"):
        line += f" (no translation: {event.get('notice')})"
    return line


def _play(data: bytes, rate: int) -> None:
    try:
        import numpy as np
        import sounddevice

        sounddevice.play(np.frombuffer(data, dtype="<i2"), rate, blocking=True)
    except Exception as exc:  # no sound card: the caption was printed anyway
        sys.stderr.write(f"cannot play speech: {exc}\n")


async def run_wearable(
    hub: str,
    *,
    name: str,
    state_dir: Path,
    mic: str,
    languages: list[str],
    pair_code: str | None = None,
    conversation: str | None = None,
    speech_out: Path | None = None,
    play: bool = False,
    json_lines: bool = False,
    stdout: TextIO = sys.stdout,
    stdin: BinaryIO | None = None,
    context: Sequence[tuple[str, str]] = (),
) -> int:
    """Stream ``mic`` to the hub and print captions; 0 once every caption arrived."""
    try:
        source = _Source(mic, stdin if stdin is not None else sys.stdin.buffer)
    except QiraError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    wearable = _Wearable(
        languages=languages,
        conversation=conversation,
        speech_out=speech_out,
        play=play,
        json_lines=json_lines,
        out=stdout,
        context=context,
    )
    session = wearable.session = DeviceSession(
        hub, name=name, kind=KIND, state_dir=state_dir, capabilities=PROFILE, pair_code=pair_code, on_event=wearable
    )
    session.start()
    try:
        await session.wait_ready(_READY_TIMEOUT_S)
        await wearable.stream(source)
        complete = await wearable.finish()
        if not complete:
            sys.stderr.write("error: the last captions did not arrive in time\n")
        return 0 if complete else 1
    except QiraError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except TimeoutError as exc:
        sys.stderr.write(f"error: {exc or 'the hub did not answer in time'}\n")
        return 1
    finally:
        source.close()
        await session.close()
