"""Start-up of ``qira serve``: time to the first 200 from /health, and until every component is ready.

python bench/startup.py --out bench/results/startup.json [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _report import emit  # bench/ is on sys.path when a benchmark runs as a script


def one_run(data_dir: Path) -> tuple[float, float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    with socket.socket() as s:  # a free port, so the clock can start before the process prints anything
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/health"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "qira.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    to_health = to_ready = None
    try:
        while to_ready is None:
            if proc.poll() is not None:
                raise RuntimeError("qira serve exited")
            try:
                body = httpx.get(url, timeout=1).json()
            except httpx.HTTPError:
                time.sleep(0.01)
                continue
            now = time.perf_counter() - started
            if to_health is None:
                to_health = now
            if body.get("ready"):
                to_ready = now
            else:
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(15)
    return to_health, to_ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    health, ready = [], []
    with tempfile.TemporaryDirectory(prefix="qira-bench-") as tmp:
        for i in range(args.runs):
            h, r = one_run(Path(tmp) / f"run{i}")
            health.append(h)
            ready.append(r)
            print(f"run {i + 1}: health {h:.3f}s  ready {r:.2f}s", flush=True)
    result = {
        "benchmark": "startup",
        "runs": args.runs,
        "seconds_to_health": round(statistics.median(health), 3),
        "seconds_to_ready": round(statistics.median(ready), 2),
        "seconds_to_health_all": [round(x, 3) for x in health],
        "seconds_to_ready_all": [round(x, 2) for x in ready],
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
