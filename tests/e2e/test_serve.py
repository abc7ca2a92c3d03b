"""``qira serve`` as a real subprocess on a free loopback port."""

import signal

import httpx

from qira import __version__
from tests._hub import HubProcess


def test_health_reports_components(hub):
    response = httpx.get(hub.http_url + "/health", timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    components = body["components"]
    assert components["hub"]["state"] == "ready"
    assert components["cloud"]["state"] == "off"
    for name in ("embeddings", "local_model"):
        assert components[name]["state"] in {"warming", "ready", "error"}


def test_serves_before_models_are_warm_then_becomes_ready(tmp_path):
    process = HubProcess(tmp_path / "data")  # warm-up on, as `make run` does
    try:
        first = process.start().health()
        # sentence-transformers takes seconds to import: the hub answered before that
        assert first["components"]["embeddings"]["state"] == "warming"
        assert first["ready"] is False
        ready = process.wait_health(120, ready=True)
        assert ready["components"]["embeddings"]["state"] == "ready"
        assert ready["components"]["local_model"]["state"] == "ready"
    finally:
        assert process.stop(signal.SIGINT) == 0


def test_sigterm_shuts_down_cleanly(tmp_path):
    process = HubProcess(tmp_path / "data", env={"QIRA_HUB_WARM_UP": "false"}).start()
    assert process.stop(signal.SIGTERM) == 0
    assert "stopped" in "".join(process.output)
    assert "Traceback" not in "".join(process.output)
    # the port is free again: a restart on the same port works
    process.start()
    assert process.health()["status"] == "ok"
    assert process.stop(signal.SIGINT) == 0


def test_unknown_path_is_404(hub):
    assert httpx.get(hub.http_url + "/nope", timeout=5).status_code == 404
