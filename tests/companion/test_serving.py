"""The hub serves the companion at "/", over TLS when given a certificate, and
``qira pair`` prints the companion's pairing link."""

from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import websockets
import websockets.exceptions

HTTPS = re.compile(r"hub listening on https://([\d.]+):(\d+)")


def test_the_hub_serves_the_companion_at_the_root(hub):
    page = httpx.get(hub.http_url + "/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<link rel="manifest"' in page.text and page.headers["cache-control"] == "no-cache"
    for path, kind in [
        ("/app.js", "javascript"),
        ("/sw.js", "javascript"),
        ("/manifest.webmanifest", ""),
        ("/icon-192.png", "image/png"),
    ]:
        r = httpx.get(hub.http_url + path, timeout=10)
        assert r.status_code == 200 and kind in r.headers["content-type"], path
    assert httpx.get(hub.http_url + "/nope.js", timeout=10).status_code == 404
    # the routes that were there before still win
    assert httpx.get(hub.http_url + "/health", timeout=10).json()["status"] == "ok"
    assert httpx.get(hub.http_url + "/v1/models", timeout=10).status_code == 401


def test_a_websocket_to_another_path_is_refused_and_the_hub_goes_on(hub):
    async def attempt() -> None:
        with pytest.raises(websockets.exceptions.InvalidStatus):
            async with websockets.connect(hub.http_url.replace("http", "ws") + "/not-ws", open_timeout=5):
                pass
        async with websockets.connect(hub.ws_url, open_timeout=5) as ws:  # /ws still works
            await ws.send(json.dumps({"v": 1, "id": 1, "type": "hello", "token": "qd_nope"}))
            assert json.loads(await ws.recv())["code"] == "auth_failed"

    asyncio.run(attempt())
    assert hub.health()["status"] == "ok"


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_tls_serves_https_and_wss(tmp_path):
    cert, key = _self_signed(tmp_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qira.cli",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "d"),
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "QIRA_HUB_WARM_UP": "false", "HF_HUB_OFFLINE": "1"},
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if m := HTTPS.search(line):
                break
        else:
            pytest.fail("no https banner:\n" + "".join(lines))
        port = int(m.group(2))
        banner = "".join(lines) + proc.stdout.readline() + proc.stdout.readline()
        assert f"wss://127.0.0.1:{port}/ws" in banner and f"https://127.0.0.1:{port}/" in banner
        context = ssl.create_default_context(cafile=str(cert))
        page = httpx.get(f"https://127.0.0.1:{port}/", verify=context, timeout=10)
        assert page.status_code == 200 and "<title>Qira</title>" in page.text

        async def hello() -> dict:
            async with websockets.connect(f"wss://127.0.0.1:{port}/ws", ssl=context, open_timeout=10) as ws:
                await ws.send(json.dumps({"v": 1, "id": 1, "type": "hello", "token": "qd_nope"}))
                return json.loads(await ws.recv())

        assert asyncio.run(hello())["code"] == "auth_failed"
    finally:
        proc.terminate()
        proc.wait(15)


@pytest.mark.parametrize("args", [["--tls-cert", "missing.pem", "--tls-key", "missing.pem"], ["--tls-cert", "x.pem"]])
def test_bad_tls_options_fail_in_one_line(tmp_path, args):
    out = subprocess.run(
        [sys.executable, "-m", "qira.cli", "serve", "--port", "0", "--data-dir", str(tmp_path / "d"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "QIRA_HUB_WARM_UP": "false", "HF_HUB_OFFLINE": "1"},
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr and "TLS" in out.stderr + out.stdout


def test_pair_prints_the_companion_link(tmp_path):
    data = tmp_path / "d"
    out = subprocess.run(
        [sys.executable, "-m", "qira.cli", "pair", "--name", "my-phone", "--kind", "phone", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    code = re.search(r"pairing code for phone 'my-phone': (\S+)", out.stdout).group(1)
    assert f"http://127.0.0.1:8765/#pair={code}&name=my-phone&kind=phone" in out.stdout
    listed = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-m",
                "qira.cli",
                "pair",
                "--name",
                "tab",
                "--kind",
                "tablet",
                "--json",
                "--data-dir",
                str(data),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
    assert listed["companion"].endswith(f"/#pair={listed['code']}&name=tab&kind=tablet")


def test_the_hub_process_helper_reads_an_https_banner():
    # tests/_hub.py parses "hub listening on http(s)://"
    from tests._hub import LISTENING

    assert LISTENING.search("Qira 0.1.0 hub listening on https://127.0.0.1:5000")
