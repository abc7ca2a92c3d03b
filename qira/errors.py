"""Every error Qira raises on purpose is a :class:`QiraError`.

Errors from the libraries underneath (httpx, websockets, sqlite3, faiss,
xllamacpp) are translated where they enter Qira (``raise ... from exc``), so
callers catch one tree::

    QiraError
    ├── ConfigError               a config file or QIRA_* variable is wrong
    ├── DataDirError              the data directory cannot be created or written
    ├── StartupError              the hub cannot start (port in use, ...)
    ├── ProtocolError             a peer broke the wire protocol (has a wire ``code``)
    │   ├── AuthError             bad token or pairing code, revoked device
    │   ├── RateLimited           too many messages or pairing attempts
    │   ├── UnknownDevice         no paired device with that id (hub-side push)
    │   └── ConnectionClosed      the peer closed the connection (carries ``close_code``)
    ├── MemoryStoreError          the memory store failed
    │   ├── MemoryNotFound        no memory with that id
    │   └── InvalidMemory         empty text, invalid filter, ...
    ├── InferenceError            a model call failed
    │   ├── LocalModelError       the in-process llama.cpp model failed
    │   ├── EndpointError         the OpenAI-compatible endpoint failed
    │   │   ├── EndpointUnavailable   connect error, timeout, 5xx, reset
    │   │   ├── EndpointRateLimited   429 (carries ``retry_after``)
    │   │   └── EndpointBadResponse   4xx, malformed SSE, wrong content type
    │   ├── CircuitOpen           the endpoint's breaker is open
    │   └── BudgetExceeded        the daily token budget is spent
    ├── SkillError                a skill failed one step
    │   ├── PermissionDenied      the skill used what it was not granted
    │   ├── SkillTimeout          the skill ran past its timeout
    │   └── ApprovalDenied        the person denied (or did not answer) an approval
    └── SpeechError               the speech pipeline failed
        ├── SpeechModelError      a speech model or program could not load or run
        └── TranslationUnavailable    no engine may translate this pair now
"""

from __future__ import annotations

__all__ = [
    "ApprovalDenied",
    "AuthError",
    "BudgetExceeded",
    "CircuitOpen",
    "ConfigError",
    "DataDirError",
    "EndpointBadResponse",
    "EndpointError",
    "EndpointRateLimited",
    "EndpointUnavailable",
    "InferenceError",
    "InvalidMemory",
    "LocalModelError",
    "MemoryNotFound",
    "MemoryStoreError",
    "PermissionDenied",
    "ProtocolError",
    "QiraError",
    "RateLimited",
    "SkillError",
    "SkillTimeout",
    "SpeechError",
    "SpeechModelError",
    "TranslationUnavailable",
    "StartupError",
    "UnknownDevice",
    "ConnectionClosed",
]


class QiraError(Exception):
    """Root of every error Qira raises on purpose."""


class ConfigError(QiraError):
    """A config file or ``QIRA_*`` variable is wrong. The message names the file and the key."""


class DataDirError(QiraError):
    """The data directory cannot be created or written."""


class StartupError(QiraError):
    """The hub cannot start (port in use, address not available, ...)."""


class ProtocolError(QiraError):
    """A peer broke the wire protocol. ``code`` is the stable string sent on the wire."""

    code = "invalid_message"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class AuthError(ProtocolError):
    code = "auth_failed"


class RateLimited(ProtocolError):
    code = "rate_limited"


class UnknownDevice(ProtocolError):
    code = "unknown_device"


class ConnectionClosed(ProtocolError):
    """The peer closed the connection; ``close_code`` is the WebSocket close code."""

    code = "closed"

    def __init__(self, message: str, *, close_code: int | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.close_code = close_code


class MemoryStoreError(QiraError):
    """The memory store failed."""


class MemoryNotFound(MemoryStoreError):
    """No memory with that id."""


class InvalidMemory(MemoryStoreError):
    """Empty text, an invalid filter or another bad argument; nothing was written."""


class InferenceError(QiraError):
    """A model call failed."""


class LocalModelError(InferenceError):
    """The in-process llama.cpp model failed to load or to answer."""


class EndpointError(InferenceError):
    """The OpenAI-compatible endpoint failed."""


class EndpointUnavailable(EndpointError):
    """Connect error, timeout, 5xx or a connection reset."""


class EndpointRateLimited(EndpointError):
    """The endpoint answered 429; ``retry_after`` is in seconds when it said so."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EndpointBadResponse(EndpointError):
    """A 4xx answer, malformed SSE or a wrong content type: retrying will not help."""


class CircuitOpen(InferenceError):
    """The endpoint's circuit breaker is open; requests go elsewhere until it half-opens."""


class BudgetExceeded(InferenceError):
    """The daily cloud token budget is spent."""


class SkillError(QiraError):
    """A skill failed one step; the turn and the hub go on."""


class PermissionDenied(SkillError):
    """A skill used something it was not granted."""


class SkillTimeout(SkillError):
    """A skill ran past its timeout."""


class ApprovalDenied(SkillError):
    """The person denied an approval, or did not answer in time."""


class SpeechError(QiraError):
    """The speech pipeline (voice activity, speech to text, translation, speech out) failed."""


class SpeechModelError(SpeechError):
    """A speech model (Silero VAD, Whisper) or a speech program (espeak-ng) could not load or run."""


class TranslationUnavailable(SpeechError):
    """No engine may translate this pair now (no offline engine, and the cloud is not allowed or not there)."""
