"""``qira doctor``: is this installation able to run? One line per check, a verdict each."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import Config, ensure_data_dir
from ..errors import QiraError
from ..inference import LocalModel, default_model_path
from ..memory import Embedder
from ._common import add_config_options, config_from_args, progress


@dataclass(frozen=True, kw_only=True)
class Check:
    name: str
    ok: bool
    detail: str
    skipped: bool = False


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("doctor", help="check the data directory, the models and the endpoint")
    add_config_options(parser)
    parser.add_argument("--skip-models", action="store_true", help="do not load the models (fast)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)  # a bad config raises here: the CLI prints one line
    checks = [Check(name="config", ok=True, detail=args.config or "loaded")]
    checks.append(_attempt("data directory", lambda: _check_data_dir(config)))
    if args.skip_models:
        checks.append(Check(name="embedding model", ok=True, skipped=True, detail="skipped (--skip-models)"))
        checks.append(Check(name="local model", ok=True, skipped=True, detail="skipped (--skip-models)"))
    else:
        with progress("loading the embedding model"):
            checks.append(_attempt("embedding model", _check_embeddings))
        with progress("loading the local model"):
            checks.append(_attempt("local model", lambda: _check_local_model(config)))
    checks.append(_check_endpoint(config))

    width = max(len(c.name) for c in checks)
    for c in checks:
        verdict = "SKIP" if c.skipped else ("OK" if c.ok else "FAIL")
        print(f"{c.name:<{width}}  {verdict:<4}  {c.detail}", flush=True)
    broken = [c.name for c in checks if not c.ok]
    print("verdict: " + ("broken: " + ", ".join(broken) if broken else "healthy"))
    return 1 if broken else 0


def _attempt(name: str, fn: Callable[[], str]) -> Check:
    try:
        return Check(name=name, ok=True, detail=fn())
    except QiraError as exc:
        return Check(name=name, ok=False, detail=str(exc))
    except Exception as exc:  # doctor reports anything unexpected rather than crashing
        return Check(name=name, ok=False, detail=f"{type(exc).__name__}: {exc}")


def _check_data_dir(config: Config) -> str:
    directory = ensure_data_dir(config)
    free = shutil.disk_usage(directory).free / 2**30
    return f"{directory} (writable, {free:.1f} GiB free)"


def _check_embeddings() -> str:
    embedder = Embedder()
    vectors = embedder.encode(["Qira checks that the embedding model works."])
    return f"all-MiniLM-L6-v2, {vectors.shape[1]}-d"


def _check_local_model(config: Config) -> str:
    with tempfile.TemporaryDirectory(prefix="qira-doctor-") as tmp:
        model = LocalModel(config.inference.local, socket_dir=Path(tmp))
        reply = model.complete({"messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 4})
        tokens = reply.get("usage", {}).get("completion_tokens", 0)
        return f"{(model.model_path or default_model_path()).name} answered ({tokens} tokens)"


def _check_endpoint(config: Config) -> Check:
    cloud = config.inference.cloud
    if not cloud.base_url:
        return Check(name="cloud endpoint", ok=True, skipped=True, detail="not configured: everything runs locally")
    import httpx

    headers = {}
    key = cloud.api_key()
    if key:
        headers["Authorization"] = f"Bearer {key}"
    url = cloud.base_url.rstrip("/") + "/models"
    try:
        response = httpx.get(url, headers=headers, timeout=httpx.Timeout(cloud.read_timeout_s, connect=cloud.connect_timeout_s))
    except httpx.HTTPError as exc:
        return Check(name="cloud endpoint", ok=False, detail=f"{url}: {type(exc).__name__}: {exc}")
    if response.status_code != 200:
        return Check(name="cloud endpoint", ok=False, detail=f"{url}: HTTP {response.status_code}")
    return Check(name="cloud endpoint", ok=True, detail=f"{url} answered")
