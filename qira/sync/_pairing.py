"""Pairing codes and device tokens: generation, hashing, and the failed-code lockout."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "PairingGuard",
    "client_address",
    "hash_secret",
    "new_code",
    "new_device_id",
    "new_token",
    "normalize_code",
    "trusted_networks",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

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


def trusted_networks(proxies: Iterable[str]) -> tuple[Network, ...]:
    """``sync.trusted_proxies`` (addresses or networks) parsed; a bad entry raises ValueError."""
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies)


def _trusted(host: str, networks: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in networks)


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The address pairing attempts are counted against.

    ``X-Forwarded-For`` is anyone's to write: it is believed only when the connection
    comes from a proxy the operator listed, and then only up to the first hop that is
    not itself a trusted proxy (read from the right, as each proxy appends)."""
    if not forwarded_for or not _trusted(peer, trusted):
        return peer
    address = peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        address = hop
        if not _trusted(hop, trusted):
            break
    return address


@dataclass
class PairingGuard:
    """Counts failed pairing codes per address, and in all: too many in a row from one address
    locks that address out; too many from everywhere within ``lockout_s`` locks out pairing
    (codes are short, and addresses are cheap for an attacker)."""

    max_failures: int
    lockout_s: float
    max_total_failures: int = 20
    _failures: dict[str, int] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)
    _recent: list[float] = field(default_factory=list)  # times of recent failures, any address
    _all_locked_until: float = 0.0

    def locked(self, peer: str, now: float) -> float:
        """Seconds left in the lockout, 0 when the peer may try."""
        if self._all_locked_until > now:
            return self._all_locked_until - now
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
        if len(self._failures) > 10_000:  # many addresses: forget the oldest counts, the global cap still holds
            for key in list(self._failures)[:5_000]:
                del self._failures[key]
        self._recent = [t for t in self._recent if t > now - self.lockout_s] + [now]
        if len(self._recent) >= self.max_total_failures:
            self._all_locked_until = now + self.lockout_s
            self._recent = []

    def succeeded(self, peer: str) -> None:
        self._failures.pop(peer, None)
