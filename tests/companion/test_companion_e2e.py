"""The companion in a real browser (Debian's chromium through Playwright) against a live
hub, with a Python device (``DeviceSession``) beside it. The tests run in order and share
one hub, browser and device: each continues where the one before left off."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse

from pycrdt import Array, Map

from tests.companion._browser import ARTIFACTS, AXE, chromium_path
from tests.companion.conftest import ANSWER

SIZES = [(280, 280), (390, 844), (820, 1180), (1920, 1080)]


def send(page, text: str) -> None:
    page.click('nav button[data-view="chat"]')
    page.fill("#say", text)
    page.press("#say", "Enter")


def answered(page, turn_count_before: int) -> str:
    """Wait for one more finished answer (with its route badge); returns its turn id."""
    page.wait_for_function(f"document.querySelectorAll('#messages li.assistant .badge').length > {turn_count_before}")
    return page.eval_on_selector_all("#messages li.assistant", "els => els[els.length - 1].dataset.key.slice(2)")


def badges(page) -> int:
    return page.eval_on_selector_all("#messages li.assistant .badge", "els => els.length")


def requests_with(cloud, text: str) -> list:
    """The scripted cloud model's requests whose last user message is ``text``."""
    out = []
    for r in cloud.requests:
        users = [m for m in r.body.get("messages", []) if m.get("role") == "user"]
        if users and users[-1].get("content") == text:
            out.append(r)
    return out


def browser_device_id(world) -> str:
    return world.page.evaluate("window.qiraCompanion.view.me.device_id")


def test_pairs_from_the_link_that_qira_pair_prints(world):
    page, link = world.page, world.link
    mark = world.py.mark()
    fragment = link["companion"].split("#", 1)[1]
    # the code rides in the fragment (with the name and kind, for the person's eyes only)
    assert urllib.parse.parse_qs(fragment)["pair"] == [link["code"]]
    page.goto(f"{world.hub.http_url}/#{fragment}")
    page.wait_for_selector("#status[data-state=online]")
    assert "#" not in page.url  # the one-time code does not stay in the address bar or history
    assert page.inner_text("#me").startswith("pocket (phone)")
    out = subprocess.run(
        [sys.executable, "-m", "qira.cli", "devices", "list", "--json", "--data-dir", str(world.hub.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    listed = {d["name"]: d for d in map(json.loads, out.stdout.splitlines())}
    assert listed["pocket"]["kind"] == "phone" and listed["pocket"]["online"]
    # the Python device sees it arrive, with its display capability
    seen = world.py.wait(
        lambda e: e.get("type") == "presence" and e.get("name") == "pocket" and e.get("online"), after=mark
    )
    assert seen["capabilities"]["display"] == {"width": 390, "height": 844, "resizable": True}


def test_chat_streams_deltas_then_the_whole_answer_with_a_route_badge(world):
    page = world.page
    page.evaluate("""() => {
        window.__seen = []
        new MutationObserver(() => {
            const last = [...document.querySelectorAll('#messages li.assistant .text')].pop()
            const text = last && last.textContent
            if (text && text !== window.__seen[window.__seen.length - 1]) window.__seen.push(text)
        }).observe(document.getElementById('messages'), {subtree: true, childList: true, characterData: true})
    }""")
    send(page, "why do tides happen")
    page.wait_for_selector("#messages li.user >> text=why do tides happen")
    answered(page, 0)
    seen = [s for s in page.evaluate("window.__seen") if s not in ("", "…")]
    assert seen[-1] == ANSWER
    partial = [s for s in seen if s != ANSWER]
    assert len(partial) >= 3 and all(ANSWER.startswith(s) for s in partial)  # streamed, piece by piece
    badge = page.locator("#messages li.assistant .badge").last
    assert badge.inner_text() == "cloud"
    reason = page.locator("#messages li.assistant .reason").last
    assert not reason.is_visible()
    badge.click()  # tap: the reason
    assert reason.is_visible() and "cloud" in reason.inner_text()
    world.state["thread"] = page.evaluate("window.qiraCompanion.view.current")


def test_a_thread_moves_from_the_browser_to_the_python_device_and_back(world):
    page, py = world.page, world.py
    thread = world.state["thread"]

    def threads() -> dict:
        return py.call(lambda: py.session.docs["threads"].get("threads", type=Map).to_py())

    # the browser wrote the thread into the shared threads document; the Python replica has it
    py.wait(lambda e: e.get("type") == "doc.changed" and e.get("doc") == "threads" and thread in threads())
    assert threads()[thread]["title"] == "why do tides happen"
    before = badges(page)
    done = py.ask("and why are there two tides a day", thread=thread)
    assert done["thread"] == thread
    page.wait_for_selector(f'#messages li[data-key="a:{done["turn"]}"] .badge')  # the browser sees that turn
    assert badges(page) == before + 1

    # the reverse: a thread started on the Python device, handed to the phone
    first = py.ask("what is the moon made of")
    other = first["thread"]
    handed = py.ask("send this to my phone", thread=other)
    assert handed["text"].startswith("Sent to your pocket")
    page.click("#toasts button:has-text('Open thread')")
    page.wait_for_function(f"window.qiraCompanion.view.current === '{other}'")
    page.wait_for_selector("#messages li.user >> text=what is the moon made of")  # its history, from chat.history
    mark = py.mark()
    send(page, "how far away is it")
    reply = py.wait(lambda e: e.get("type") == "chat.done" and e.get("thread") == other, after=mark)
    assert reply["text"] == ANSWER
    history = py.request("chat.history", {"thread": other})
    assert [m["content"] for m in history["messages"] if m["role"] == "user"] == [
        "what is the moon made of",
        "send this to my phone",
        "how far away is it",
    ]
    assert browser_device_id(world) in history["participants"]
    world.state["thread"] = other


def test_an_approval_approved_in_the_browser_runs_the_skill_and_is_dismissed_on_the_python_device(world):
    page, py = world.page, world.py
    mark = py.mark()
    started = py.request("chat.send", {"text": "water the garden"})
    request = py.wait(lambda e: e.get("type") == "approval.request", after=mark)
    card = page.locator(f'#approvals [data-approval="{request["approval"]}"]')
    card.wait_for()
    assert request["summary"] in card.inner_text() and "risk high" in card.inner_text()
    card.locator("button:has-text('Approve')").click()
    resolved = py.wait(
        lambda e: e.get("type") == "approval.resolved" and e.get("approval") == request["approval"], after=mark
    )
    assert resolved["status"] == "approved" and resolved["by"] == browser_device_id(world)
    done = py.wait(lambda e: e.get("type") == "chat.done" and e.get("turn") == started["turn"], after=mark)
    assert done["text"] == "Watered the garden."
    card.wait_for(state="detached")


def test_offline_a_message_and_a_note_survive_a_reload_and_are_delivered_exactly_once(world):
    page, context, py, cloud = world.page, world.context, world.py, world.cloud
    thread = world.state["thread"]
    page.wait_for_function("navigator.serviceWorker.controller !== null")  # the shell is cached
    context.set_offline(True)
    page.wait_for_selector("#status[data-state=offline]")
    send(page, "is the sea saltier at high tide")
    page.wait_for_selector("#messages li.pending >> text=waiting to send")
    page.click('nav button[data-view="notes"]')
    page.fill("#note-text", "buy oat milk")
    page.click("#note-add button")
    page.wait_for_selector("#note-list >> text=buy oat milk")

    page.reload()  # still offline: the service worker serves the shell, IndexedDB the state
    page.wait_for_selector("#shell:not([hidden])")
    assert page.get_attribute("#status", "data-state") == "offline"
    page.click('nav button[data-view="notes"]')
    page.wait_for_selector("#note-list >> text=buy oat milk")
    page.click('nav button[data-view="chat"]')
    page.wait_for_selector("#messages li.pending >> text=is the sea saltier at high tide")

    before = badges(page)
    context.set_offline(False)
    page.wait_for_selector("#status[data-state=online]")
    answered(page, before)
    page.wait_for_function("window.qiraCompanion.link.unacked.size === 0")

    def py_notes() -> list:
        return py.call(lambda: py.session.docs["notes"].get("notes", type=Array).to_py())

    py.wait(lambda e: e.get("type") == "doc.changed" and any(n["text"] == "buy oat milk" for n in py_notes()))
    # a second load, online: nothing left to replay, nothing applied twice
    page.reload()
    page.wait_for_selector("#status[data-state=online]")
    page.wait_for_function("window.qiraCompanion.link.synced.size === window.qiraCompanion.link.subscribed.size")
    assert [n["text"] for n in py_notes()].count("buy oat milk") == 1
    in_browser = page.evaluate("window.qiraCompanion.docs.notes.getArray('notes').toJSON()")
    assert in_browser == py_notes()  # converged with the Python replica
    history = py.request("chat.history", {"thread": thread})
    said = [m["content"] for m in history["messages"] if m["role"] == "user"]
    assert said.count("is the sea saltier at high tide") == 1
    assert len(requests_with(cloud, "is the sea saltier at high tide")) == 1


def test_growing_the_window_sends_a_display_change_and_the_next_answer_follows_it(world):
    page, py, cloud = world.page, world.py, world.cloud
    me = browser_device_id(world)
    before = badges(page)
    send(page, "how do rainbows form")
    answered(page, before)
    (narrow,) = requests_with(cloud, "how do rainbows form")
    assert narrow.body["max_tokens"] == 96 and "narrow screen (390 px" in narrow.body["messages"][0]["content"]

    mark = py.mark()
    page.set_viewport_size({"width": 1920, "height": 1080})
    seen = py.wait(
        lambda e: (
            e.get("type") == "presence"
            and e.get("device") == me
            and (e.get("capabilities") or {}).get("display", {}).get("width") == 1920
        ),
        after=mark,
    )
    assert seen["capabilities"]["display"]["height"] == 1080
    before = badges(page)
    send(page, "and why are they curved")
    answered(page, before)
    (wide,) = requests_with(cloud, "and why are they curved")
    assert wide.body["max_tokens"] == 320 and "wide screen (1920 px" in wide.body["messages"][0]["content"]


def test_an_approval_asked_while_the_browser_was_away_shows_on_reconnect_and_can_be_denied(world):
    page, context, py = world.page, world.context, world.py
    context.set_offline(True)
    page.wait_for_selector("#status[data-state=offline]")
    mark = py.mark()
    started = py.request("chat.send", {"text": "water the garden"})
    request = py.wait(lambda e: e.get("type") == "approval.request", after=mark)
    context.set_offline(False)  # approval.list on reconnect brings the card back
    card = page.locator(f'#approvals [data-approval="{request["approval"]}"]')
    card.locator("button:has-text('Deny')").click()
    resolved = py.wait(
        lambda e: e.get("type") == "approval.resolved" and e.get("approval") == request["approval"], after=mark
    )
    assert resolved["status"] == "denied"
    done = py.wait(lambda e: e.get("type") == "chat.done" and e.get("turn") == started["turn"], after=mark)
    assert done["text"].startswith("Not done (you declined)")
    card.wait_for(state="detached")


def test_memories_are_added_searched_and_forgotten_with_scope_badges(world):
    page = world.page
    page.click('nav button[data-view="memory"]')
    page.fill("#memory-text", "my bike lock code is 4512")
    page.select_option("#memory-scope", "device")
    page.click("#memory-add button")
    page.wait_for_selector("#memory-list >> text=Memory added.")
    page.fill("#memory-query", "bike lock code")
    page.click("#memory-search button")
    # the add's list shows the memory too: wait for the search's list to replace it
    page.wait_for_selector("#memory-list >> text=Memory added.", state="detached")
    hit = page.locator("#memory-list li", has_text="my bike lock code is 4512").first
    hit.wait_for()
    assert hit.locator(".badge").inner_text() == "device"
    hit.locator("button:has-text('Forget')").click()
    hit.locator(".card button:has-text('Approve')").click()
    page.wait_for_selector("#memory-list >> text=Forgotten: my bike lock code is 4512")
    hits = page.evaluate("window.qiraCompanion.link.request('memory.search', {query: 'bike lock code', k: 10})")
    assert "my bike lock code is 4512" not in [h["memory"]["text"] for h in hits["hits"]]


def test_devices_show_presence_and_battery(world):
    page, py = world.page, world.py
    page.click('nav button[data-view="devices"]')
    page.wait_for_selector("#device-list li[data-device] >> text=desk")
    assert "(this device)" in page.locator("#device-list li", has_text="pocket").inner_text()
    py.call(lambda: py.session.presence(active=True, capabilities={"battery": 0.42}))
    desk = page.locator("#device-list li", has_text="desk")
    desk.locator("text=battery 42%").wait_for()
    assert "online" in desk.inner_text()


def test_a_reminder_arrives_as_an_in_app_notification(world):
    page = world.page
    send(page, "remind me in 2 seconds to stretch")
    toast = page.locator("#toasts .toast", has_text="stretch").filter(has_text="Reminder")
    toast.wait_for()
    toast.locator("button[aria-label=Dismiss]").click()
    toast.wait_for(state="detached")


def test_the_inference_policy_is_set_through_the_audited_operation(world):
    page, py = world.page, world.py
    page.click('nav button[data-view="settings"]')
    mark = py.mark()
    page.check('input[name="policy"][value="local-only"]')
    page.wait_for_selector("#settings-msg >> text=Policy is now local-only (was prefer-local).")
    status = py.wait(lambda e: e.get("type") == "hub.status" and e.get("policy") == "local-only", after=mark)
    assert status["policy"] == "local-only"
    assert page.inner_text("#policy") == "local-only"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "qira.cli",
            "audit",
            "--data-dir",
            str(world.hub.data_dir),
            "--json",
            "--skill",
            "settings",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    entries = [json.loads(line) for line in out.stdout.splitlines()]
    assert any(e["device_name"] == "pocket" for e in entries), out.stdout + out.stderr
    page.check('input[name="policy"][value="prefer-local"]')  # as it was
    page.wait_for_selector("#settings-msg >> text=Policy is now prefer-local (was local-only).")


def test_a_wrong_code_says_why_and_offers_the_form_again(world):
    # another browser (its own profile): this one's tab would share the paired device's token
    other = world.playwright.chromium.launch(executable_path=chromium_path())
    try:
        page = other.new_page()
        page.goto(f"{world.hub.http_url}/#pair=AAAA-AAAA")
        page.wait_for_selector("#pairing:not([hidden])")
        page.wait_for_selector("#pair-error:has-text('auth_failed')")
        assert page.is_visible("#pair-code")
    finally:
        other.close()
    # the paired page in the same browser profile was not disturbed
    assert world.page.get_attribute("#status", "data-state") == "online"


def test_layouts_from_watch_to_rollable_are_accessible(world):
    page = world.page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = time.time()
    page.add_script_tag(path=str(AXE))
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_function(f"window.innerWidth === {width}")
        # re-flowed live: the thread list folds away on a narrow screen and comes back as the window
        # grows; the third column (reminders, notes) appears on a wide one
        page.click('nav button[data-view="chat"]')
        assert page.is_visible("#thread-list") == (width >= 760), width
        assert page.is_visible("#side-notes") == (width >= 1280), width
        for view in ("chat", "talk", "memory", "notes", "devices", "settings"):
            page.click(f'nav button[data-view="{view}"]')
            if view in ("chat", "talk"):
                page.screenshot(path=str(ARTIFACTS / f"companion-{view}-{width}x{height}.png"))
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (view, width)
            result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
            bad = [
                (v["id"], v["impact"], v["help"])
                for v in result["violations"]
                if v["impact"] in ("serious", "critical")
            ]
            assert not bad, (view, width, bad)
    page.click('nav button[data-view="chat"]')
    shots = [ARTIFACTS / f"companion-{v}-{w}x{h}.png" for w, h in SIZES for v in ("chat", "talk")]
    assert all(shot.stat().st_mtime >= started for shot in shots)  # this run's, not a stale copy


def test_chromium_finds_the_app_installable(world):
    cdp = world.context.new_cdp_session(world.page)
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    manifest = cdp.send("Page.getAppManifest")
    assert not manifest.get("errors")


def test_no_console_errors(world):
    assert world.errors == []
