"""Translation-mode benchmark: generated speech streamed in real time through a live hub.

    python bench/translation.py --out bench/results/translation.json [--quick]

In one run, on this machine, everything offline on 127.0.0.1:

* end of speech -> final caption, p50/p95, English -> Portuguese (the target: p50 <= 1.0 s,
  p95 <= 2.0 s), and the same for Portuguese -> English and Spanish -> English (Apertium);
* start of speech -> first partial caption;
* speech-to-text real-time factor (Whisper base, int8, in this process), side by side:
  the hub's setting (encoder window cut to the utterance, beam 3) against Whisper's usual
  30 s window and against greedy decoding (ratios);
* word error rate (jiwer) per language on the generated set;
* two conversations at once, each streaming in real time: their latencies, and whether
  the pipeline keeps up (every caption arrives, latency does not grow, nothing shed).

Speech comes from espeak-ng (150 words a minute, a low pink-noise hiss under it, 1.5 s of
quiet between turns); the end of speech is the last sample louder than -40 dBFS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import emit  # noqa: E402  (bench/ is on sys.path when run as a script)

from device_adapters import DeviceSession  # noqa: E402
from device_adapters._profiles import PROFILES  # noqa: E402
from tests._hub import HubProcess  # noqa: E402
from tests.speech._audio import mix_noise, say, wer, words  # noqa: E402

SENTENCES = {
    "en": [
        "Where is the train station?",
        "I would like a cup of coffee, please.",
        "How much does this book cost?",
        "Thank you very much for your help.",
        "What time does the next bus leave?",
        "Can you speak more slowly?",
        "My hotel is near the river.",
        "We are looking for a good restaurant.",
    ],
    "pt": [
        "Bom dia. Quanto custa este livro?",
        "Onde fica a estação de trem?",
        "Eu gostaria de um café, por favor.",
        "Muito obrigado pela sua ajuda.",
        "A que horas sai o próximo ônibus?",
        "Você pode falar mais devagar?",
        "Preciso de um médico.",
        "O restaurante está aberto hoje?",
    ],
    "es": [
        "Buenos días. ¿Cuánto cuesta este libro?",
        "¿Dónde está la estación de tren?",
        "Quisiera un café, por favor.",
        "Muchas gracias por su ayuda.",
        "¿A qué hora sale el próximo autobús?",
        "¿Puede hablar más despacio?",
    ],
}
CHUNK_S = 0.1
GAP_S = 1.5
RATE = 16_000


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


@dataclass
class Utterance:
    language: str
    text: str
    start: float  # seconds in the stream: first and last sample louder than -40 dBFS
    end: float


@dataclass
class Track:
    """One conversation streamed: its PCM and where each utterance is."""

    pcm: bytes
    utterances: list[Utterance]


@dataclass
class Run:
    sent_at: float = 0.0  # wall clock when stream time 0 was "spoken"
    partial_at: dict[int, float] = field(default_factory=dict)
    finals: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    summary: dict[str, Any] = field(default_factory=dict)


def load(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def build_track(work: Path, items: list[tuple[str, str]], name: str) -> Track:
    samples: list[np.ndarray] = [np.zeros(int(0.5 * RATE), dtype="<i2")]
    utterances: list[Utterance] = []
    position = len(samples[0])
    for i, (language, text) in enumerate(items):
        clean = say(text, language, work / f"{name}-{i}.wav")
        noisy = load(mix_noise(clean, work / f"{name}-{i}-noisy.wav"))
        loud = np.nonzero(np.abs(load(clean).astype(np.int32)) > 328)[0]  # -40 dBFS
        utterances.append(
            Utterance(
                language=language, text=text, start=(position + loud[0]) / RATE, end=(position + loud[-1] + 1) / RATE
            )
        )
        gap = (np.random.default_rng(i).normal(0, 60, int(GAP_S * RATE))).astype("<i2")  # a quiet room
        samples += [noisy, gap]
        position += len(noisy) + len(gap)
    return Track(pcm=np.concatenate(samples).astype("<i2").tobytes(), utterances=utterances)


def pair_code(hub: HubProcess, name: str) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "qira.cli",
            "pair",
            "--name",
            name,
            "--kind",
            "wearable",
            "--json",
            "--data-dir",
            str(hub.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)["code"]


async def stream_track(hub: HubProcess, work: Path, name: str, track: Track, languages: list[str]) -> Run:
    run = Run()
    stream = f"bench-{name}"

    def on_event(event: dict[str, Any]) -> None:
        now = time.monotonic()
        if event.get("stream") != stream:
            return  # the person's other device's conversation: its captions reach this device too
        if event.get("type") == "caption":
            if event.get("final"):
                run.finals.append((now, event))
            else:
                run.partial_at.setdefault(int(event["utterance"]), now)
        elif event.get("type") == "audio.ended":
            run.summary = event
            run.ended.set()

    session = DeviceSession(
        hub.ws_url,
        name=name,
        kind="wearable",
        state_dir=work / name,
        capabilities=PROFILES["wearable"],
        pair_code=pair_code(hub, name),
        on_event=on_event,
    )
    session.start()
    await session.wait_ready(60)
    await session.request("audio.start", {"stream": stream, "languages": languages}, timeout=60)
    size = int(RATE * 2 * CHUNK_S)
    run.sent_at = time.monotonic()
    for seq, offset in enumerate(range(0, len(track.pcm), size)):
        # a microphone hands over a chunk once its last sample has been spoken
        delay = run.sent_at + (offset + size) / (2 * RATE) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        session.send_audio(stream, seq, track.pcm[offset : offset + size])
    await session.request("audio.stop", {"stream": stream}, timeout=300)
    await asyncio.wait_for(run.ended.wait(), 60)
    await session.close()
    return run


def latencies(run: Run, track: Track) -> dict[str, Any]:
    """Match each final caption to the utterance it overlaps most; measure from the speech's end."""
    to_final: list[float] = []
    to_partial: list[float] = []
    heard: dict[int, list[str]] = {}
    first_final: dict[int, float] = {}
    for at, caption in run.finals:
        start, end = float(caption["start_s"]), float(caption["end_s"])
        overlap = [max(0.0, min(end, u.end) - max(start, u.start)) for u in track.utterances]
        best = int(np.argmax(overlap))
        if overlap[best] <= 0:
            continue
        heard.setdefault(best, []).append(caption["text"])
        first_final.setdefault(best, at)
        u = track.utterances[best]
        if end >= u.end - 0.05:  # the caption that closes the utterance
            to_final.append(at - (run.sent_at + u.end))
    partial_by_utt: dict[int, float] = {}
    for number, at in run.partial_at.items():
        caption_start = next((float(c["start_s"]) for _a, c in run.finals if int(c["utterance"]) == number), None)
        if caption_start is None:
            continue
        best = min(range(len(track.utterances)), key=lambda i: abs(track.utterances[i].start - caption_start))
        partial_by_utt[best] = at
    for best, at in partial_by_utt.items():
        to_partial.append(at - (run.sent_at + track.utterances[best].start))
    refs = [u.text for u in track.utterances]
    hyps = [" ".join(heard.get(i, [])) for i in range(len(track.utterances))]
    return {
        "to_final": to_final,
        "to_partial": to_partial,
        "refs": refs,
        "hyps": hyps,
        "languages_heard": [c["language"] for _a, c in run.finals],
    }


def summarize(name: str, m: dict[str, Any], run: Run) -> dict[str, Any]:
    return {
        "utterances": len(m["refs"]),
        "final_captions": len(run.finals),
        "end_of_speech_to_final_s": {
            "p50": pct(m["to_final"], 0.5),
            "p95": pct(m["to_final"], 0.95),
            "n": len(m["to_final"]),
        },
        "start_of_speech_to_first_partial_s": {
            "p50": pct(m["to_partial"], 0.5),
            "p95": pct(m["to_partial"], 0.95),
            "n": len(m["to_partial"]),
        },
        "wer": round(wer(m["refs"], m["hyps"]), 3),
        "dropped_bytes": run.summary.get("dropped_bytes"),
        "samples": [{"said": r, "heard": h} for r, h in zip(m["refs"], m["hyps"], strict=True)],
    }


def stt_rtf(work: Path, cache: Path, clips: list[tuple[str, Path]]) -> dict[str, Any]:
    from qira.speech import Transcriber, TranscriberSettings

    audio = [(lang, load(p).astype(np.float32) / 32768) for lang, p in clips]
    seconds = sum(len(a) for _l, a in audio) / RATE
    out: dict[str, Any] = {"audio_s": round(seconds, 2)}
    for label, settings in (
        ("hub", TranscriberSettings()),
        ("full_30s_window", TranscriberSettings(full_window=True)),
        ("greedy", TranscriberSettings(beam_size=1)),
    ):
        model = Transcriber(cache, settings)
        model.load()
        model.transcribe(audio[0][1], ["en", "pt"])  # warm
        started = time.perf_counter()
        for lang, a in audio:
            model.transcribe(a, ["en", lang] if lang != "en" else ["en", "pt"])
        out[label] = round((time.perf_counter() - started) / seconds, 3)
    out["full_window_over_hub"] = round(out["full_30s_window"] / out["hub"], 2)
    out["greedy_over_hub"] = round(out["greedy"] / out["hub"], 2)
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    n = 3 if args.quick else None
    work = Path(tempfile.mkdtemp(prefix="qira-bench-translation-"))
    cache = work / "models"
    tracks = {
        "en_pt": build_track(work, [("en", s) for s in SENTENCES["en"][:n]], "en"),
        "pt_en": build_track(work, [("pt", s) for s in SENTENCES["pt"][:n]], "pt"),
        "es_en": build_track(work, [("es", s) for s in SENTENCES["es"][:n]], "es"),
    }
    hub = HubProcess(
        work / "hub",
        env={
            "QIRA_HUB_WARM_UP": "false",
            "QIRA_SPEECH_WARM_UP": "true",
            "QIRA_SPEECH_MODEL_CACHE_DIR": str(cache),
            "QIRA_HUB_LOG_LEVEL": "warning",
        },
    )
    hub.start(timeout=120)
    result: dict[str, Any] = {"machine": {"cores": os.cpu_count(), "load_avg_1m_at_start": os.getloadavg()[0]}}
    try:
        deadline = time.monotonic() + 300
        while hub.health()["components"].get("speech", {}).get("state") != "ready":
            if time.monotonic() > deadline:
                raise RuntimeError("speech did not warm up")
            await asyncio.sleep(0.2)
        one: dict[str, Any] = {}
        for key, languages in (("en_pt", ["en", "pt"]), ("pt_en", ["en", "pt"]), ("es_en", ["en", "es"])):
            run = await stream_track(hub, work, f"solo-{key}", tracks[key], languages)
            one[key] = summarize(key, latencies(run, tracks[key]), run)
        result["one_conversation"] = one
        en = one["en_pt"]["end_of_speech_to_final_s"]
        result["target_en_pt_offline"] = {
            "p50_s": en["p50"],
            "p95_s": en["p95"],
            "target_p50_s": 1.0,
            "target_p95_s": 2.0,
            "met": bool(en["p50"] is not None and en["p50"] <= 1.0 and en["p95"] <= 2.0),
        }
        result["wer"] = {lang: one[key]["wer"] for lang, key in (("en", "en_pt"), ("pt", "pt_en"), ("es", "es_en"))}

        # two conversations at once, each in real time
        runs = await asyncio.gather(
            stream_track(hub, work, "duo-a", tracks["en_pt"], ["en", "pt"]),
            stream_track(hub, work, "duo-b", tracks["pt_en"], ["en", "pt"]),
        )
        duo = {}
        all_final: list[float] = []
        for label, run, key in (("a_en_pt", runs[0], "en_pt"), ("b_pt_en", runs[1], "pt_en")):
            m = latencies(run, tracks[key])
            duo[label] = summarize(label, m, run)
            all_final += m["to_final"]
            half = len(m["to_final"]) // 2
            duo[label]["latency_growth_s"] = (
                round(float(np.median(m["to_final"][half:]) - np.median(m["to_final"][:half])), 3) if half else None
            )
        keeps_up = all(
            d["final_captions"] >= d["utterances"] - 1
            and not d["dropped_bytes"]
            and (d["latency_growth_s"] or 0) < 1.0
            and (d["end_of_speech_to_final_s"]["p95"] or 99) < 5.0
            for d in duo.values()
        )
        duo["keeps_up_with_real_time"] = keeps_up
        duo["criteria"] = (
            "every utterance captioned (one may merge), nothing shed, p95 end-of-speech -> final "
            "under 5 s, latency not growing by 1 s or more from the first half to the second"
        )
        result["two_conversations_at_once"] = duo
    finally:
        hub.stop()
    clips = [
        (lang, work / f"{lang}-{i}-noisy.wav") for lang in ("en", "pt", "es") for i in range(len(SENTENCES[lang][:n]))
    ]
    result["stt_real_time_factor"] = stt_rtf(work, cache, clips[: 6 if args.quick else 12])
    result["machine"]["load_avg_1m_at_end"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the JSON figures here")
    parser.add_argument("--quick", action="store_true", help="three utterances per language")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    emit(asyncio.run(main_async(args)), args.out)


if __name__ == "__main__":
    main()

__all__ = ["words"]
