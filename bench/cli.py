"""`qira memory add|search` from a shell, with a hub running (the CLI asks it through the
hub-local admin path) and without one (the CLI loads the embedding model itself), side by side.

    python bench/cli.py --out bench/results/cli.json [--quick]

Each figure is the wall time of a whole `qira ...` process, as a person at a shell waits for it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import emit  # noqa: E402  (bench/ is on sys.path when run as a script)

from tests._hub import HubProcess  # noqa: E402

QIRA = [sys.executable, "-m", "qira.cli"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def timed(*args: str, data_dir: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([*QIRA, *args, "--data-dir", str(data_dir)], capture_output=True, text=True, env=ENV)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return time.perf_counter() - started


def series(runs: int, data_dir: Path) -> dict[str, float]:
    add = [
        timed("memory", "add", f"bench fact number {i} about the lighthouse", data_dir=data_dir) for i in range(runs)
    ]
    search = [timed("memory", "search", "what about the lighthouse?", data_dir=data_dir) for _ in range(runs)]
    return {"add_median_s": round(statistics.median(add), 2), "search_median_s": round(statistics.median(search), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 2 if args.quick else 5
    result: dict[str, Any] = {"runs": runs, "load_average": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        hub = HubProcess(data).start()
        try:
            hub.wait_health(300, ready=True)
            timed("memory", "add", "warm-up", data_dir=data)
            result["with_hub"] = series(runs, data)
        finally:
            hub.stop()
        result["without_hub"] = series(runs, data)
    result["search_speedup"] = round(
        result["without_hub"]["search_median_s"] / result["with_hub"]["search_median_s"], 1
    )
    result["add_speedup"] = round(result["without_hub"]["add_median_s"] / result["with_hub"]["add_median_s"], 1)
    emit(result, args.out)


if __name__ == "__main__":
    main()
