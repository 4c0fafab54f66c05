"""HMAC-SHA256 signing of multi-frame messages, and replay rejection.

Every message on every socket is ``[signature, header, *body]``. The signature covers the
header and body frames, each prefixed with its length so frame boundaries are signed too.
It is checked with ``hmac.compare_digest`` before anything in the message is decoded.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

__all__ = ["KEY_BYTES", "ReplayGuard", "Signer", "new_key"]

KEY_BYTES = 32  # 256-bit keys: as long as the SHA-256 block's security level
SIG_BYTES = 32  # SHA-256 digest size


def new_key() -> bytes:
    """A fresh random per-pool key."""
    return secrets.token_bytes(KEY_BYTES)


class Signer:
    """Signs and verifies frame lists under one key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < 16:
            raise ValueError("taskscope: a signing key must be at least 16 random bytes")
        self._key = key

    def __repr__(self) -> str:  # never show the key
        return "Signer(<key hidden>)"

    def sign(self, frames: Sequence[bytes | memoryview]) -> bytes:
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for frame in frames:
            mac.update(len(frame).to_bytes(8, "little"))
            mac.update(frame)
        return mac.digest()

    def verify(self, signature: bytes | memoryview, frames: Sequence[bytes | memoryview]) -> bool:
        if len(signature) != SIG_BYTES:
            return False
        return hmac.compare_digest(bytes(signature), self.sign(frames))


class ReplayGuard:
    """Rejects a message whose sequence number is not above the last one seen from its source.

    Each sender numbers its messages 1, 2, 3, ...; a replayed (or reordered) message carries a
    number already seen. Sources are bounded by the caller (workers, one driver).
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def accept(self, source: str, seq: int) -> bool:
        if seq <= self._last.get(source, 0):
            return False
        self._last[source] = seq
        return True

    def forget(self, source: str) -> None:
        self._last.pop(source, None)
