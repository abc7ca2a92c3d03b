"""The agent end to end: a real hub, real device processes over loopback, skills
installed through an entry point exactly as a third party's would be."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import httpx
import pytest

from tests._devices import close_all, pair_devices
from tests._hub import HubProcess

KINDS = {"phone": "phone", "pc": "pc", "tablet": "tablet", "watch": "wearable"}

TEST_SKILLS = textwrap.dedent("""
    import asyncio

    from qira.sdk import SkillContext, skill


    @skill(description="Crash on purpose", examples=["crash the test skill"], patterns=["crash now"])
    async def crash(ctx: SkillContext) -> str:
        raise RuntimeError("kaboom")


    @skill(description="Hang on purpose", examples=["hang the test skill"], patterns=["hang now"], timeout_s=1.0)
    async def hang(ctx: SkillContext) -> str:
        await asyncio.sleep(3600)
        return "never"


    @skill(description="Read memories without asking for the permission", examples=["peek into memory"],
           patterns=["peek now"])
    async def peek(ctx: SkillContext) -> str:
        hits = await ctx.recall("wifi")
        return f"saw {len(hits)} memories"


    SKILLS = [crash, hang, peek]
""")


def install_test_skills(site):
    """What ``pip install`` leaves behind: the module and a dist-info with the entry point."""
    site.mkdir(parents=True)
    (site / "qira_e2e_skills.py").write_text(TEST_SKILLS)
    info = site / "qira_e2e_skills-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qira-e2e-skills\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[qira.skills]\ne2e = qira_e2e_skills:SKILLS\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("agent-e2e")
    install_test_skills(tmp / "site")
    hub = HubProcess(tmp / "hub", env={"QIRA_HUB_WARM_UP": "false", "PYTHONPATH": str(tmp / "site")})
    hub.start()
    devices = pair_devices(hub, KINDS, tmp / "devices")
    try:
        # the first turn loads the embedding model in the hub: give it time once
        assert devices["pc"].ask("what time is it", timeout=600)["text"].startswith("It's")
        yield hub, devices, tmp
    finally:
        close_all(devices)
        hub.stop()


def test_reminder_said_on_the_tablet_arrives_on_the_worn_wearable(world):
    _, devices, _ = world
    watch_mark = devices["watch"].mark()
    done = devices["tablet"].ask("remind me in 2 seconds to stretch")
    assert done["text"].startswith("OK, I'll remind you to stretch in 2 seconds")
    note = devices["watch"].wait(lambda e: e.get("type") == "notify", after=watch_mark, timeout=20)
    assert (note["title"], note["text"], note["kind"]) == ("Reminder", "stretch", "reminder")
    assert not [e for e in devices["tablet"].events if e.get("type") == "notify"]


def test_a_context_event_fires_the_reminder_waiting_for_it(world):
    _, devices, _ = world
    done = devices["tablet"].ask("remind me to buy milk when I get to the store")
    assert done["text"].startswith("OK, I'll remind you to buy milk when you get to the store")
    watch_mark, phone_mark = devices["watch"].mark(), devices["phone"].mark()
    devices["phone"].say("/context place store")
    reply = devices["phone"].wait(
        lambda e: e.get("type") == "reply" and "triggered" in (e.get("result") or {}), after=phone_mark
    )
    assert reply["result"]["triggered"] == 1
    note = devices["watch"].wait(lambda e: e.get("type") == "notify", after=watch_mark, timeout=20)
    assert note["text"] == "buy milk"


def test_approval_requested_from_the_pc_is_approved_on_the_phone_across_a_hub_restart(world):
    hub, devices, _ = world
    pc, phone = devices["pc"], devices["phone"]
    assert "remember" in pc.ask("remember that my wifi password is on the fridge")["text"]
    phone_mark, pc_mark = phone.mark(), pc.mark()
    pc.say("forget my wifi password")
    request = phone.wait(lambda e: e.get("type") == "approval.request", after=phone_mark)
    assert request["skill"] == "forget" and request["risk"] == "high"
    assert request["summary"] == "Forget what I remember about my wifi password"
    assert not [e for e in pc.events[pc_mark:] if e.get("type") == "chat.done"]  # paused, not answered

    marks = {name: d.mark() for name, d in devices.items()}
    hub.restart()  # the pending approval is in the checkpoint: it survives
    for name, d in devices.items():
        d.wait(lambda e: e.get("type") == "session.ready", after=marks[name], timeout=30)
    phone.say(f"/approve {request['approval']}")
    done = pc.wait(
        lambda e: e.get("type") == "chat.done" and e.get("turn") == request["turn"], after=pc_mark, timeout=60
    )
    assert done["text"].startswith("Forgotten (1 memory): my wifi password is on the fridge")
    resolved = phone.wait(lambda e: e.get("type") == "approval.resolved", after=phone_mark)
    assert resolved["status"] == "approved"


def test_a_thread_moves_from_phone_to_pc(world):
    _, devices, _ = world
    phone, pc = devices["phone"], devices["pc"]
    first = phone.ask("take a note: buy coffee beans")
    thread = first["thread"]
    phone_mark = phone.mark()
    pc.say(f"/thread {thread}")
    second = pc.ask("show my notes")
    assert second["thread"] == thread and "buy coffee beans" in second["text"]
    # the phone, where the thread started, sees the PC's turn as well
    phone.wait(lambda e: e.get("type") == "chat.done" and e.get("turn") == second["turn"], after=phone_mark)
    mark = pc.mark()
    pc.say("/send chat.history " + json.dumps({"thread": thread}))
    reply = pc.wait(lambda e: e.get("type") == "reply" and "messages" in (e.get("result") or {}), after=mark)
    assert [m["role"] for m in reply["result"]["messages"]] == ["user", "assistant", "user", "assistant"]
    assert sorted(reply["result"]["participants"]) == sorted([phone.device_id, pc.device_id])


@pytest.mark.parametrize(
    ("utterance", "words"),
    [
        ("crash now", "The crash skill failed: RuntimeError: kaboom"),
        ("hang now", "The hang skill did not finish within 1 s and was stopped."),
        ("peek now", "skill 'peek' was not granted the 'memory.read' permission"),
    ],
)
def test_broken_and_overreaching_skills_fail_their_step_and_the_hub_goes_on(world, utterance, words):
    hub, devices, _ = world
    assert words in devices["pc"].ask(utterance)["text"]
    assert hub.health()["status"] == "ok"
    assert devices["pc"].ask("what's the date")["text"].startswith("Today is")


def test_translate_runs_locally_in_its_own_worker_process(world):
    _, devices, _ = world
    done = devices["phone"].ask("translate good morning to portuguese", timeout=60)
    assert done["text"].lower().startswith("bom dia") and done["route"] == "local"


def test_audit_log_has_device_skill_permission_approval_and_outcome(world):
    hub, _, _ = world
    out = subprocess.run(
        [sys.executable, "-m", "qira.cli", "audit", "--data-dir", str(hub.data_dir), "--json", "--limit", "200"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    entries = [json.loads(line) for line in out.stdout.splitlines()]
    by_skill = {e["skill"]: e for e in entries}
    assert by_skill["forget"]["approval"] == "approved" and by_skill["forget"]["device_name"] == "pc"
    assert by_skill["forget"]["permissions_used"] == ["memory.read", "memory.write"]
    assert by_skill["remind"]["outcome"] == "ok" and by_skill["remind"]["device_name"] == "tablet"
    assert by_skill["crash"]["outcome"] == "error" and by_skill["hang"]["outcome"] == "timeout"
    assert by_skill["peek"]["outcome"] == "permission_denied"
    assert any(e["skill"] == "proactive" for e in entries)  # the delivered reminder
    text = subprocess.run(
        [sys.executable, "-m", "qira.cli", "audit", "--data-dir", str(hub.data_dir), "--skill", "forget"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "approval=approved" in text and "forget" in text


def test_openai_compatible_api_with_the_official_client(world):
    openai = pytest.importorskip("openai")
    from device_adapters._state import DeviceState

    hub, _, tmp = world
    state = DeviceState(tmp / "devices" / "phone")
    token = state.get("token")
    state.close()
    client = openai.OpenAI(base_url=hub.http_url + "/v1", api_key=token, max_retries=0)
    assert [m.id for m in client.models.list().data] == ["qira"]
    answer = client.chat.completions.create(model="qira", messages=[{"role": "user", "content": "what time is it"}])
    assert answer.choices[0].message.content.startswith("It's")
    chunks = client.chat.completions.create(
        model="qira", stream=True, messages=[{"role": "user", "content": "take a note: the api works"}]
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed.startswith("Noted") and "the api works" in streamed
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=hub.http_url + "/v1", api_key="not-a-token", max_retries=0).models.list()
    assert httpx.get(hub.http_url + "/v1/models", timeout=5).status_code == 401
