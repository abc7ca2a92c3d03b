"""Pairing codes and device tokens: generation, hashing, and the failed-code lockout."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

__all__ = ["PairingGuard", "hash_secret", "new_code", "new_device_id", "new_token", "normalize_code"]

# Crockford-style alphabet: no I, L, O, U, so codes read aloud or retyped survive.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_code(code: str) -> str:
    cleaned = code.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    return f"{cleaned[:4]}-{cleaned[4:]}"


def new_token() -> str:
    return "qd_" + secrets.token_urlsafe(32)


def new_device_id() -> str:
    return "dev_" + secrets.token_hex(8)


def hash_secret(secret: str) -> str:
    # Tokens and codes are random, high-entropy strings, so a fast hash is enough:
    # what matters is that sync.db never holds a usable credential.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class PairingGuard:
    """Counts failed pairing codes per peer address; too many in a row locks that peer out."""

    max_failures: int
    lockout_s: float
    _failures: dict[str, int] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)

    def locked(self, peer: str, now: float) -> float:
        """Seconds left in the lockout, 0 when the peer may try."""
        until = self._locked_until.get(peer, 0.0)
        if until <= now:
            self._locked_until.pop(peer, None)
            return 0.0
        return until - now

    def failed(self, peer: str, now: float) -> None:
        count = self._failures.get(peer, 0) + 1
        if count >= self.max_failures:
            self._locked_until[peer] = now + self.lockout_s
            count = 0
        self._failures[peer] = count

    def succeeded(self, peer: str) -> None:
        self._failures.pop(peer, None)
