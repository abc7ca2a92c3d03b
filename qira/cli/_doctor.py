"""``qira doctor``: is this installation able to run? One line per check, a verdict each."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .._hubfile import read_running_hub
from ..config import Config, config_file_in_use, ensure_data_dir
from ..errors import QiraError
from ._common import add_config_options, config_from_args, progress


@dataclass(frozen=True, kw_only=True)
class Check:
    name: str
    ok: bool
    detail: str
    skipped: bool = False


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("doctor", help="check the config, the data directory, the hub, the models and the endpoint")
    add_config_options(parser)
    parser.add_argument("--skip-models", action="store_true", help="do not load the models (fast)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)  # the same validation `qira serve` runs: a bad config is one line here
    source = config_file_in_use(args.config, data_dir=config.data_dir)
    checks = [Check(name="config", ok=True, detail=f"{source}" if source else "built-in defaults (no config file)")]
    checks.append(_attempt("data directory", lambda: _check_data_dir(config)))
    checks.append(_check_hub(config))
    checks.append(_attempt("skills", lambda: _check_skills(config)))
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
    if not config.data_dir.exists():  # a check creates nothing
        return f"{config.data_dir} does not exist yet: `qira serve` creates it"
    directory = ensure_data_dir(config)
    free = shutil.disk_usage(directory).free / 2**30
    return f"{directory} (writable, {free:.1f} GiB free)"


def _check_hub(config: Config) -> Check:
    import httpx

    hub = read_running_hub(config.data_dir)
    if hub is None:
        return Check(name="hub", ok=True, skipped=True, detail=f"not running on {config.data_dir}")
    try:
        health = httpx.get(hub.http_url + "/health", timeout=5.0).json()
    except (httpx.HTTPError, ValueError) as exc:
        return Check(
            name="hub",
            ok=False,
            detail=f"pid {hub.pid} recorded in hub.json does not answer at {hub.http_url}: {type(exc).__name__}",
        )
    components = health.get("components", {})
    bad = [
        f"{name} {c.get('state')}" + (f" ({c['reason']})" if c.get("reason") else "")
        for name, c in sorted(components.items())
        if c.get("state") not in ("ready", "off")
    ]
    state = "ready" if health.get("ready") else "starting"
    return Check(
        name="hub",
        ok=True,
        detail=f"running (pid {hub.pid}, {state}) at {hub.ws_url}" + (f"; {'; '.join(bad)}" if bad else ""),
    )


def _check_skills(config: Config) -> str:
    from ..agent import SkillRegistry

    registry = SkillRegistry.from_entry_points(config.skills)
    if registry.problems:
        raise QiraError("not loaded: " + "; ".join(f"{p.entry_point}: {p.error}" for p in registry.problems))
    return f"{len(registry)} loaded" + (f", {len(registry.disabled)} disabled" if registry.disabled else "")


def _check_embeddings() -> str:
    from ..memory import Embedder

    embedder = Embedder()
    vectors = embedder.encode(["Qira checks that the embedding model works."])
    return f"all-MiniLM-L6-v2, {vectors.shape[1]}-d"


def _check_local_model(config: Config) -> str:
    from ..inference import LocalModel, default_model_path

    with tempfile.TemporaryDirectory(prefix="qira-doctor-") as tmp:
        model = LocalModel(config.inference.local, socket_dir=Path(tmp))
        reply = model.complete({"messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 4})
        tokens = reply.get("usage", {}).get("completion_tokens", 0)
        return f"{(model.model_path or default_model_path()).name} answered ({tokens} tokens)"


def _check_endpoint(config: Config) -> Check:
    from ..inference import probe_endpoint

    cloud = config.inference.cloud
    if not cloud.base_url:
        return Check(name="cloud endpoint", ok=True, skipped=True, detail="not configured: everything runs locally")
    result = asyncio.run(probe_endpoint(cloud))  # the probe the hub runs for /health
    detail = result.detail
    if result.ok and cloud.api_key_env and not cloud.api_key():
        detail += f" (no key: {cloud.api_key_env} is not set)"
    return Check(name="cloud endpoint", ok=result.ok, detail=detail)
