"""The companion's Talk panel in a real browser against a live hub with the speech
pipeline: Chromium's fake microphone plays a WAV spoken by espeak-ng
(``--use-file-for-fake-audio-capture``, restarted each time the microphone opens), the
person holds push-to-talk, and the page shows the captions in both languages and plays
the speech the hub sends back. Also: a wearable's captions on the companion, and what
the person reads when the microphone or the hub says no."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests._hub import HubProcess
from tests.companion._browser import ARTIFACTS, chromium_path, pair_link
from tests.speech._audio import concat, duration, say, silence, words
from tests.speech.conftest import Wearable, pair, start_speech_hub

FAKE_MIC = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@dataclass
class Voice:
    hub: HubProcess
    playwright: Any
    tmp: Path
    browsers: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    def companion(self, name: str, args: list[str], hub: HubProcess | None = None) -> Any:
        """A fresh browser with the companion paired as phone ``name`` and online."""
        hub = hub or self.hub
        browser = self.playwright.chromium.launch(executable_path=chromium_path(), args=args)
        self.browsers.append(browser)
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.set_default_timeout(120_000)
        page.on("console", lambda m: self.errors.append(f"{name} console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"{name} page error: {e}"))
        link = pair_link(hub.data_dir, name, "phone")
        page.goto(f"{hub.http_url}/#{link['companion'].split('#', 1)[1]}")
        page.wait_for_selector("#status[data-state=online]")
        page.click('nav button[data-view="talk"]')
        return page


@pytest.fixture(scope="module")
def voice(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("voice")
    # the same joined Whisper model as tests/speech (one join per session)
    hub = start_speech_hub(tmp / "hub", tmp_path_factory.getbasetemp() / "speech-models")
    pw = sync_playwright().start()
    v = Voice(hub=hub, playwright=pw, tmp=tmp)
    try:
        yield v
    finally:
        for browser in v.browsers:
            browser.close()
        pw.stop()
        hub.stop()


def spoken(tmp: Path, name: str, lines: list[tuple[str, str]]) -> Path:
    """The lines spoken by espeak-ng with quiet between them, and a tail of silence so the
    last utterance ends while the button is still held."""
    parts = [silence(0.6, tmp / f"{name}-lead.wav")]
    for i, (language, text) in enumerate(lines):
        parts.append(say(text, language, tmp / f"{name}-{i}.wav"))
        parts.append(silence(1.4, tmp / f"{name}-gap{i}.wav"))
    parts.append(silence(1.2, tmp / f"{name}-tail.wav"))
    return concat(parts, tmp / f"{name}.wav")


def hold_until_heard(page, seconds: float, *, release) -> None:
    """Keep push-to-talk held until the page has streamed ``seconds`` of microphone audio."""
    page.wait_for_selector("#ptt[aria-pressed=true]")
    samples = int(seconds * 16000)
    page.wait_for_function(
        f"() => {{ const a = window.qiraCompanion.talk.active; return a && a.started && a.mic.samples >= {samples} }}",
        timeout=120_000,
    )
    release()
    page.wait_for_selector("#ptt[aria-pressed=false]")


def stopped(page) -> None:
    """Wait for the reply to audio.stop (sent once every final caption of the stream is out)."""
    page.wait_for_function("!document.getElementById('talk-msg').textContent.startsWith('Listening to the end')")


def finals(page) -> list[dict]:
    return page.evaluate(
        "[...window.qiraCompanion.talk.captions.values()].filter(c => c.final).map(c => JSON.stringify(c))"
    )


def watch_partials(page) -> None:
    page.evaluate("""() => {
        window.__partials = 0
        new MutationObserver(() => {
            if (document.querySelector('#captions li.partial')) window.__partials += 1
        }).observe(document.getElementById('captions'), {subtree: true, childList: true})
    }""")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"voice-{name}.png"))


def test_push_to_talk_translates_both_ways_with_captions_and_speech(voice):
    wav = spoken(
        voice.tmp, "en-pt", [("en", "Where is the train station?"), ("pt", "Eu gostaria de um café, por favor.")]
    )
    page = voice.companion("pocket", [*FAKE_MIC, f"--use-file-for-fake-audio-capture={wav}"])
    # translation mode is the default; the browser speaks English, the other person Portuguese
    assert page.is_checked('input[name="talk-mode"][value="translate"]')
    page.select_option("#lang-mine", "en")
    page.select_option("#lang-theirs", "pt")
    caps = page.evaluate("window.qiraCompanion.link.capabilities()")
    assert caps["audio_in"] is True and caps["audio_out"] is True
    watch_partials(page)

    page.hover("#ptt")
    page.mouse.down()
    hold_until_heard(page, duration(wav), release=page.mouse.up)
    page.wait_for_function("document.querySelectorAll('#captions li.caption.other:not(.partial)').length >= 1")
    page.wait_for_function("window.qiraCompanion.talk.player.stats.played >= 2", timeout=120_000)
    got = [json.loads(c) for c in finals(page)]
    print("\n".join(f"{c['speaker']} {c['language']} {c['text']!r} -> {c['translation']!r}" for c in got))
    print("partial caption renders seen:", page.evaluate("window.__partials"))
    mine = [c for c in got if c["speaker"] == "self"]
    theirs = [c for c in got if c["speaker"] == "other"]
    assert mine and theirs
    assert all((c["language"], c["target_language"]) == ("en", "pt") for c in mine)
    assert all((c["language"], c["target_language"]) == ("pt", "en") for c in theirs)
    assert "train station" in words(" ".join(c["text"] for c in mine))
    assert "estação" in " ".join(c["translation"] for c in mine).lower()
    assert all(c["translation"] for c in theirs)
    conversation = {c["conversation"] for c in got}
    assert conversation == {page.evaluate("window.qiraCompanion.talk.conversation")}
    # once audio.stop is answered every caption is final: no partial is left hanging
    stopped(page)
    assert page.locator("#captions li.partial").count() == 0

    # both languages are on the screen, each marked with its language
    first = page.locator("#captions li.caption.self").first
    assert "train station" in words(first.locator("p.said[lang=en]").inner_text())
    assert "estação" in first.locator("p.translated[lang=pt]").inner_text().lower()
    assert page.locator("#captions li.caption.other p.said[lang=pt]").count() >= 1
    # the translations came back as speech and were played (16 kHz s16le, announced bytes all there)
    stats = page.evaluate("window.qiraCompanion.talk.player.stats")
    assert stats["announced"] >= 2 and stats["played"] >= 2 and stats["bytes"] > 2 * 16000
    page.wait_for_function("window.qiraCompanion.talk.player.stats.ended >= 1", timeout=60_000)
    assert page.get_by_text("Played:").is_visible()
    shot(page, "translate")

    # turned toward the other person: their language, big — what they said last, in Portuguese
    page.click("#face")
    big = page.locator("#facing-big")
    assert big.get_attribute("lang") == "pt"
    assert big.inner_text() == theirs[-1]["text"]
    assert page.locator("#facing-small").inner_text() == theirs[-1]["translation"]
    font = page.evaluate("parseFloat(getComputedStyle(document.getElementById('facing-big')).fontSize)")
    assert font >= 2 * page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    shot(page, "facing")
    page.click("#flip")
    assert "flipped" in (page.get_attribute("#facing", "class") or "")
    page.keyboard.press("Escape")
    assert page.is_hidden("#facing")

    # Tap to start, tap to stop (the microphone file starts over): the same conversation goes on.
    before = len(got)
    page.click("#ptt")
    hold_until_heard(page, duration(wav), release=lambda: page.click("#ptt"))
    stopped(page)
    got = [json.loads(c) for c in finals(page)]
    assert len(got) > before
    assert {c["conversation"] for c in got} == conversation
    assert page.locator("#captions li.partial").count() == 0

    # the transcript thread on the hub holds the exchange, both languages
    reply = page.evaluate(
        f"window.qiraCompanion.link.request('conversation.transcript', {{conversation: '{got[0]['conversation']}'}})"
    )
    assert [(x["speaker"], x["text"]) for x in reply["lines"]] == [(c["speaker"], c["text"]) for c in got]
    voice.state["pocket"] = page


def test_a_wearables_captions_show_on_the_companion(voice):
    page = voice.state["pocket"]
    before = page.locator("#captions li.caption").count()
    wav = spoken(voice.tmp, "watch", [("en", "I would like a cup of coffee, please.")])
    watch = Wearable(
        voice.hub.ws_url,
        "watch",
        voice.tmp / "watch-state",
        mic=wav,
        translate="en:pt",
        code=pair(voice.hub, "watch"),
        speech_out=voice.tmp / "watch-speech",
    )
    try:
        assert watch.wait(timeout=300) == 0, watch.stderr
    finally:
        if watch.proc.poll() is None:
            watch.proc.kill()
    [said] = watch.finals()
    page.wait_for_function(f"document.querySelectorAll('#captions li.caption:not(.partial)').length > {before}")
    li = page.locator("#captions li.caption.self").last
    assert "on watch" in li.locator(".who").inner_text()
    assert li.locator("p.said").inner_text() == said["text"]
    assert li.locator("p.translated[lang=pt]").inner_text() == said["translation"]
    shot(page, "from-wearable")


def test_voice_chat_asks_qira_and_the_answer_is_a_caption_and_speech(voice):
    wav = spoken(voice.tmp, "ask", [("en", "What time is it?")])
    page = voice.companion("tablet", [*FAKE_MIC, f"--use-file-for-fake-audio-capture={wav}"])
    page.check('input[name="talk-mode"][value="chat"]')
    assert page.is_hidden("#lang-theirs")
    assert "ask Qira" in page.inner_text("#ptt")
    # the keyboard: hold Space on the focused button
    page.focus("#ptt")
    page.keyboard.down(" ")
    hold_until_heard(page, duration(wav), release=lambda: page.keyboard.up(" "))
    answer = page.locator("#captions li.caption.qira")
    answer.wait_for()
    asked = page.locator("#captions li.caption.self").last
    assert words(asked.locator("p.said").inner_text()) == "what time is it"
    assert any(ch.isdigit() for ch in answer.locator("p.said").inner_text())  # the clock skill's answer
    assert answer.locator(".who").inner_text().startswith("Qira")
    page.wait_for_function("window.qiraCompanion.talk.player.stats.played >= 1", timeout=120_000)
    shot(page, "chat")


def test_a_denied_microphone_or_none_says_so_and_the_app_goes_on(voice):
    # Without the fake permission prompt, this headless Chromium answers NotAllowedError;
    # without a fake device, there is no microphone at all.
    for name, args, expect in [
        ("denied", ["--use-fake-device-for-media-stream", "--deny-permission-prompts"], "may not use the microphone"),
        ("no-mic", [], "No microphone"),
    ]:
        page = voice.companion(name, args)
        page.click("#ptt")
        page.wait_for_selector(f"#talk-error >> text={expect}")
        assert page.get_attribute("#ptt", "aria-pressed") == "false"
        assert page.get_attribute("#status", "data-state") == "online"
        shot(page, name)
        # the rest of the app keeps working: a typed question is answered
        page.click('nav button[data-view="chat"]')
        page.fill("#say", "what time is it")
        page.press("#say", "Enter")
        page.wait_for_selector("#messages li.assistant .badge")


def test_a_hub_without_speech_refuses_and_the_page_says_so(voice, tmp_path):
    hub = HubProcess(tmp_path / "hub", env={"QIRA_HUB_WARM_UP": "false", "QIRA_SPEECH_ENABLED": "false"})
    hub.start(timeout=60)
    try:
        page = voice.companion("quiet", FAKE_MIC, hub=hub)
        page.click("#ptt")
        page.wait_for_selector("#talk-error >> text=does not understand speech")
        assert page.get_attribute("#ptt", "aria-pressed") == "false"
        shot(page, "refused")
        page.context.browser.close()
    finally:
        hub.stop()


def test_no_console_errors(voice):
    assert voice.errors == []
