"""The companion's push-to-talk against the reference client, on one live hub.

    python bench/companion_voice.py --out bench/results/companion_voice.json [--quick]

The same English track (espeak-ng at 150 words a minute, a low hiss, 1.5 s of quiet
between sentences; see bench/translation.py) goes to the hub twice, en -> pt, in real
time:

* **browser**: Debian's chromium plays it as its microphone
  (``--use-file-for-fake-audio-capture``); the companion (paired, Talk tab, push-to-talk
  held) captures it through getUserMedia and an AudioWorklet, resamples it to 16 kHz and
  streams it;
* **python**: a ``DeviceSession`` sends the 16 kHz PCM itself (bench/translation.py's
  reference client).

Per client: end of speech -> final caption at the client, p50/p95; start of speech ->
first partial; WER; and the ratio browser / python of the p50s (what the browser's
capture, resampling and JavaScript add). In the browser the clock is the page's
``performance.now()``: the moment stream time 0 was spoken is the earliest
``chunk sent - chunk end`` over all chunks (no chunk leaves before its last sample is
heard), so the browser's own buffering counts against it; Chromium's fake device ahead
of the AudioWorklet is not seen. The track is matched to what the page sent by the first
sample louder than -26 dBFS.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _report import emit  # noqa: E402
from translation import RATE, SENTENCES, Run, Track, build_track, latencies, stream_track, summarize  # noqa: E402

from tests._hub import HubProcess  # noqa: E402
from tests.companion._browser import chromium_path, pair_link  # noqa: E402

ONSET = 1640  # -26 dBFS: above the hiss, so the first crossing is the first word

INSTRUMENT = """() => {
    const { talk, link } = window.qiraCompanion
    const b = window.__bench = { sent: [], sizes: [], parts: [], finals: [], partials: {} }
    const send = link.sendAudio.bind(link)
    link.sendAudio = (stream, chunk, pcm) => {
        const ok = send(stream, chunk, pcm)
        if (ok) { b.sent.push(performance.now()); b.sizes.push(pcm.length); b.parts.push(pcm.slice()) }
        return ok
    }
    const on = talk.onEvent.bind(talk)
    talk.onEvent = ev => {
        if (ev.type === 'caption' && ev.speaker !== 'qira' && String(ev.stream).startsWith('ptt-')) {
            if (ev.final) b.finals.push({ at: performance.now(), caption: ev })
            else if (!(ev.utterance in b.partials)) b.partials[ev.utterance] = performance.now()
        }
        on(ev)
    }
}"""

COLLECT = """() => {
    const b = window.__bench
    const total = b.sizes.reduce((a, n) => a + n, 0)
    const all = new Uint8Array(total)
    let at = 0
    for (const p of b.parts) { all.set(p, at); at += p.length }
    let bin = ''
    for (let i = 0; i < all.length; i += 8192) bin += String.fromCharCode.apply(null, all.subarray(i, i + 8192))
    return { sent: b.sent, sizes: b.sizes, pcm: btoa(bin), finals: b.finals, partials: b.partials }
}"""


def write_wav(track: Track, path: Path) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(track.pcm + bytes(int(1.5 * RATE) * 2))  # a quiet tail: the last utterance ends
    return path


def onset(samples: np.ndarray) -> int:
    loud = np.nonzero(np.abs(samples.astype(np.int32)) > ONSET)[0]
    if not len(loud):
        raise RuntimeError("no speech in the audio")
    return int(loud[0])


async def browser_run(pw: Any, hub: HubProcess, work: Path, track: Track) -> Run:
    wav = write_wav(track, work / "browser-mic.wav")
    seconds = len(track.pcm) / 2 / RATE + 1.5
    browser = await pw.chromium.launch(
        executable_path=chromium_path(),
        args=[
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
        ],
    )
    try:
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        page.set_default_timeout(120_000)
        link = pair_link(hub.data_dir, "bench-phone", "phone")
        await page.goto(f"{hub.http_url}/#{link['companion'].split('#', 1)[1]}")
        await page.wait_for_selector("#status[data-state=online]")
        await page.click('nav button[data-view="talk"]')
        await page.check('input[name="talk-mode"][value="translate"]')
        await page.select_option("#lang-mine", "en")
        await page.select_option("#lang-theirs", "pt")
        await page.evaluate(INSTRUMENT)
        await page.hover("#ptt")
        await page.mouse.down()
        samples = int(seconds * RATE)
        await page.wait_for_function(
            f"() => {{ const a = window.qiraCompanion.talk.active; return a && a.started && a.mic.samples >= {samples} }}",
            timeout=int(seconds * 1000) + 120_000,
        )
        await page.mouse.up()
        await page.wait_for_selector("#ptt[aria-pressed=false]")
        await page.wait_for_function(
            "!document.getElementById('talk-msg').textContent.startsWith('Listening to the end')"
        )
        got = await page.evaluate(COLLECT)
    finally:
        await browser.close()

    sent = np.frombuffer(base64.b64decode(got["pcm"]), dtype="<i2")
    offset = onset(np.frombuffer(track.pcm, dtype="<i2")) - onset(sent)  # track sample = sent sample + offset
    ends = np.cumsum(np.array(got["sizes"]) // 2)
    t0 = min(at / 1000 - end / RATE for at, end in zip(got["sent"], ends, strict=True))
    run = Run()
    run.sent_at = t0 - offset / RATE  # when track time 0 was spoken, on the page's clock
    for item in got["finals"]:
        caption = dict(item["caption"])
        caption["start_s"] = float(caption["start_s"]) + offset / RATE
        caption["end_s"] = float(caption["end_s"]) + offset / RATE
        run.finals.append((item["at"] / 1000, caption))
    run.partial_at = {int(k): v / 1000 for k, v in got["partials"].items()}
    run.summary = {"dropped_bytes": 0, "alignment_offset_samples": offset}
    return run


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    n = 3 if args.quick else None
    work = Path(tempfile.mkdtemp(prefix="qira-bench-companion-voice-"))
    track = build_track(work, [("en", s) for s in SENTENCES["en"][:n]], "en")
    hub = HubProcess(
        work / "hub",
        env={
            "QIRA_HUB_WARM_UP": "false",
            "QIRA_SPEECH_WARM_UP": "true",
            "QIRA_SPEECH_MODEL_CACHE_DIR": str(work / "models"),
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
        async with async_playwright() as pw:
            runs = {"browser": await browser_run(pw, hub, work, track)}
        runs["python"] = await stream_track(hub, work, "python", track, ["en", "pt"])
    finally:
        hub.stop()
    for name, run in runs.items():
        result[name] = summarize(name, latencies(run, track), run)
    result["browser"]["alignment_offset_samples"] = runs["browser"].summary["alignment_offset_samples"]
    b, p = (result[k]["end_of_speech_to_final_s"]["p50"] for k in ("browser", "python"))
    result["ratio_browser_to_python_p50"] = round(b / p, 2) if b and p else None
    result["machine"]["load_avg_1m_at_end"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the JSON figures here")
    parser.add_argument("--quick", action="store_true", help="three sentences")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    emit(asyncio.run(main_async(args)), args.out)


if __name__ == "__main__":
    main()
