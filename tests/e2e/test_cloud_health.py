"""Issue 12, honest health against a live hub: the cloud is `unknown` until GET /models finds the
configured model; a hanging endpoint falls back at the first-token deadline; chat.done says
`fallback` (failed before answering) apart from `degraded` (failed mid-answer), with the reason."""

from __future__ import annotations

import json
import time

from tests._devices import DeviceProcess
from tests._hub import HubProcess
from tests.e2e.test_sync_cli import qira
from tests.inference.servers import Fault, FaultServer, closed_port


def cloud_env(base_url: str, **extra: str) -> dict[str, str]:
    return {
        "QIRA_HUB_WARM_UP": "false",
        "QIRA_INFERENCE_CLOUD__BASE_URL": base_url,
        "QIRA_INFERENCE_CLOUD__MODEL": "test",
        "QIRA_INFERENCE_CLOUD__PROBE_INTERVAL_S": "0.5",
        "QIRA_INFERENCE_CLOUD__API_KEY_ENV": "",
        **extra,
    }


def cloud_state(hub: HubProcess, wanted: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        cloud = hub.health()["components"].get("cloud", {})
        if cloud.get("state") == wanted:
            return cloud
        assert time.monotonic() < deadline, f"cloud never {wanted}: {cloud}"
        time.sleep(0.1)


def test_the_cloud_is_unknown_until_the_probe_finds_the_model(tmp_path):
    dead = HubProcess(tmp_path / "a", env=cloud_env(f"http://127.0.0.1:{closed_port()}/v1")).start()
    try:
        assert "probing again every 0.5s" in cloud_state_reason(dead, "cannot reach")
    finally:
        dead.stop()
    with FaultServer() as endpoint:
        endpoint.models = ("llama-3-8b",)
        hub = HubProcess(tmp_path / "b", env=cloud_env(endpoint.base_url)).start()
        try:
            assert "does not serve model 'test'" in cloud_state_reason(hub, "does not serve")
            assert "cloud: " in "".join(hub.output) and "unknown until a probe" in "".join(hub.output)
            endpoint.models = ("llama-3-8b", "test")  # the re-probe notices the endpoint now serves it
            assert "serves test" in cloud_state(hub, "ready")["reason"]
        finally:
            hub.stop()


def cloud_state_reason(hub: HubProcess, words: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        cloud = hub.health()["components"].get("cloud", {})
        if words in cloud.get("reason", ""):
            assert cloud["state"] == "unknown"
            return cloud["reason"]
        assert time.monotonic() < deadline, f"cloud never said {words!r}: {cloud}"
        time.sleep(0.1)


def test_chat_done_tells_a_fallback_from_a_degraded_answer(tmp_path):
    with FaultServer() as endpoint:
        endpoint.hang_s = 120
        env = cloud_env(
            endpoint.base_url,
            QIRA_INFERENCE_POLICY="prefer-cloud",
            QIRA_INFERENCE_CLOUD__FIRST_TOKEN_TIMEOUT_S="5.0",
            QIRA_INFERENCE_CLOUD__READ_TIMEOUT_S="5.0",
            QIRA_INFERENCE_CLOUD__MAX_RETRIES="0",
            QIRA_INFERENCE_CLOUD__BREAKER_FAILURES="50",
        )
        hub = HubProcess(tmp_path / "hub", env=env).start()
        device = None
        try:
            cloud_state(hub, "ready")
            code = json.loads(qira("pair", "--name", "pc", "--kind", "pc", "--json", data_dir=hub.data_dir).stdout)
            device = DeviceProcess(hub.ws_url, name="pc", kind="pc", state=tmp_path / "pc", code=code["code"])
            device.wait(lambda e: e["type"] == "session.ready", timeout=60)

            endpoint.script(Fault.HANG)  # nothing at all: the local model answers
            done = device.ask("why is the sky blue", timeout=240)
            assert done["fallback"] is True and done["degraded"] is False and done["route"] == "local"
            assert "no first token within 5s" in done["reason"], done
            assert done["question"] == "why is the sky blue"

            endpoint.script(Fault.HANG_MID)  # two words, then silence
            done = device.ask("why is the grass green", timeout=240)
            assert done["degraded"] is True and done["fallback"] is False, json.dumps(done) + "".join(hub.output[-60:])
            assert "middle of the answer" in done["reason"]
        finally:
            if device is not None:
                device.close()
            hub.stop()
