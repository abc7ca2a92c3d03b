"""The CLI's error paths: one clear line and a non-zero exit, never a traceback."""

import os
import socket
import subprocess
import sys

import pytest

from qira import __version__


def qira(*args, env=None, timeout=60):
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "qira.cli", *args], capture_output=True, text=True, env=full_env, timeout=timeout
    )


def assert_clean_failure(result, code, *fragments):
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_version():
    result = qira("version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"qira {__version__}"


def test_serve_with_bad_config_stops_with_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[hub]\nport = 'x'\n")
    result = qira("serve", "--config", str(bad), "--data-dir", str(tmp_path / "d"))
    assert_clean_failure(result, 2, str(bad), "hub.port")
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_with_unknown_key_in_environment(tmp_path):
    result = qira("serve", "--data-dir", str(tmp_path), env={"QIRA_SYNC_MAX_FRAME": "3"})
    assert_clean_failure(result, 2, "environment", "sync.max_frame: unknown key")


def test_serve_on_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = qira("serve", "--port", str(port), "--data-dir", str(tmp_path))
    assert_clean_failure(result, 1, f"port {port}", "already in use")


def test_serve_with_unwritable_data_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = qira("serve", "--port", "0", "--data-dir", str(blocker / "data"))
    assert_clean_failure(result, 1, "data directory", "not writable")


def test_doctor_reports_each_check(tmp_path):
    result = qira("doctor", "--skip-models", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("data directory") and " OK " in line for line in lines)
    assert any(line.startswith("cloud endpoint") and "SKIP" in line for line in lines)
    assert lines[-1] == "verdict: healthy"


def test_doctor_fails_when_the_endpoint_does_not_answer(tmp_path):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "QIRA_INFERENCE_CLOUD__BASE_URL": f"http://127.0.0.1:{port}/v1",
        "QIRA_INFERENCE_CLOUD__CONNECT_TIMEOUT_S": "1.0",
    }
    result = qira("doctor", "--skip-models", "--data-dir", str(tmp_path), env=env)
    assert result.returncode == 1
    assert any(line.startswith("cloud endpoint") and "FAIL" in line for line in result.stdout.splitlines())
    assert result.stdout.splitlines()[-1] == "verdict: broken: cloud endpoint"


@pytest.mark.slow
def test_doctor_loads_both_models(tmp_path):
    result = qira("doctor", "--data-dir", str(tmp_path), timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "embedding model  OK" in out and "384-d" in out
    assert "local model      OK" in out and "SmolLM2" in out
    assert "loading the embedding model" in result.stderr  # progress is shown
