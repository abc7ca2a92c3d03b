"""Issue 12: the CLI finds the running hub through <data dir>/hub.json and asks it (fast, and
the same data a device sees); the admin path answers only the holder of the hub's secret."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import httpx

QIRA = [sys.executable, "-m", "qira.cli"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}

# Runs one CLI command and reports whether the process loaded the embedding model's stack.
PROBE = (
    "import sys; from qira.cli import main; code = main(sys.argv[1:]); "
    "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'faiss') if m in sys.modules); "
    "print('HEAVY:' + ','.join(heavy), file=sys.stderr); sys.exit(code)"
)


def qira(*args: str, data_dir) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )


def test_the_cli_uses_the_running_hub(hub):
    record = json.loads((hub.data_dir / "hub.json").read_text())
    assert record["pid"] == hub.proc.pid and record["ws_url"] == hub.ws_url and record["http_url"] == hub.http_url
    assert stat.S_IMODE((hub.data_dir / "hub.json").stat().st_mode) == 0o600  # it holds the admin secret

    added = qira("memory", "add", "My locker code is 4417", "--json", data_dir=hub.data_dir)
    assert added.returncode == 0, added.stderr
    assert "HEAVY:\n" in added.stderr  # the hub embedded it: no model (torch, faiss) in the CLI process
    memory_id = json.loads(added.stdout)["id"]
    found = qira("memory", "search", "what is my locker code?", "-k", "1", "--json", data_dir=hub.data_dir)
    assert found.returncode == 0 and "HEAVY:\n" in found.stderr
    assert json.loads(found.stdout)["memory"]["id"] == memory_id
    listed = qira("memory", "list", data_dir=hub.data_dir)
    assert memory_id in listed.stdout and "HEAVY:\n" in listed.stderr

    paired = qira("pair", "--name", "kitchen tablet", "--kind", "tablet", "--qr", data_dir=hub.data_dir)
    assert paired.returncode == 0, paired.stderr
    assert f"--name 'kitchen tablet' --hub {hub.ws_url} --pair " in paired.stdout  # the real URL, not HUB:PORT
    assert "HUB:PORT" not in paired.stdout and "█" in paired.stdout  # and a QR code for a phone's camera
    assert "no hub is running" not in paired.stdout

    devices = qira("devices", "list", "--json", data_dir=hub.data_dir)
    assert devices.returncode == 0 and devices.stdout == ""  # paired only once the code is used
    audit = qira("audit", data_dir=hub.data_dir)
    assert audit.returncode == 0 and "no audit entries" in audit.stdout

    doctor = subprocess.run(
        [*QIRA, "doctor", "--skip-models", "--data-dir", str(hub.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    hub_line = next(line for line in doctor.stdout.splitlines() if line.startswith("hub"))
    assert f"running (pid {hub.proc.pid}" in hub_line and hub.ws_url in hub_line

    banner = "".join(hub.output)
    assert f"pair --name my-phone --kind phone --data-dir {hub.data_dir}" in banner  # this hub's data dir
    assert "faiss.loader" not in banner  # the index loaded (memory add above) without its import chatter

    assert hub.stop() == 0
    assert not (hub.data_dir / "hub.json").exists()  # removed on a clean stop
    offline = qira("memory", "list", data_dir=hub.data_dir)  # and the CLI falls back to the files
    assert offline.returncode == 0 and memory_id in offline.stdout


def test_the_admin_path_wants_the_secret_from_the_data_directory(hub):
    url = hub.http_url + "/admin/v1"
    secret = json.loads((hub.data_dir / "hub.json").read_text())["admin_secret"]
    body = {"op": "devices.list", "args": {}}
    assert httpx.post(url, json=body, timeout=10).status_code == 401
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer guess"}, timeout=10).status_code == 401
    ok = httpx.post(url, json=body, headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert ok.status_code == 200 and ok.json() == {"ok": True, "result": {"devices": []}}
    unknown = httpx.post(url, json={"op": "sql.exec"}, headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_op"
    bad = httpx.post(url, content=b"[1", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert bad.status_code == 400
    revoke = httpx.post(
        url,
        json={"op": "devices.revoke", "args": {"name": "nobody"}},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    assert revoke.status_code == 400 and "no paired device named 'nobody'" in revoke.json()["message"]
    assert hub.health()["status"] == "ok"  # bad admin input never hurts the hub
