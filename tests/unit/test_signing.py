"""HMAC-SHA256 signing of frame lists (pool/signing.py) and the replay guard."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from taskscope.pool.signing import KEY_BYTES, SIG_BYTES, ReplayGuard, Signer, new_key


def test_new_keys_are_long_and_random() -> None:
    keys = {new_key() for _ in range(20)}
    assert len(keys) == 20
    assert all(isinstance(k, bytes) and len(k) == KEY_BYTES == 32 for k in keys)


@pytest.mark.parametrize("bad", [b"", b"short", b"x" * 15, "a" * 32, bytearray(32), None],
                         ids=["empty", "5-bytes", "15-bytes", "str", "bytearray", "none"])
def test_signer_refuses_weak_or_non_bytes_keys(bad: object) -> None:
    with pytest.raises(ValueError, match="at least 16 random bytes"):
        Signer(bad)  # type: ignore[arg-type]


def test_signature_is_hmac_sha256_over_length_prefixed_frames() -> None:
    key = new_key()
    frames = [b"header", b"", b"payload"]
    expected = hmac.new(key, b"".join(len(f).to_bytes(8, "little") + f for f in frames),
                        hashlib.sha256).digest()
    assert Signer(key).sign(frames) == expected
    assert len(expected) == SIG_BYTES


def test_verify_accepts_the_genuine_signature_for_bytes_and_memoryviews() -> None:
    signer = Signer(new_key())
    frames = [b"a" * 1000, bytearray(b"b" * 10)]
    sig = signer.sign(frames)
    assert signer.verify(sig, frames)
    assert signer.verify(memoryview(sig), [memoryview(f) for f in frames])


def test_frame_boundaries_are_signed() -> None:
    signer = Signer(new_key())
    sig = signer.sign([b"ab", b"c"])
    assert not signer.verify(sig, [b"a", b"bc"])
    assert not signer.verify(sig, [b"abc"])
    assert not signer.verify(sig, [b"ab", b"c", b""])


def test_tampered_frames_fail() -> None:
    signer = Signer(new_key())
    frames = [b"header", b"payload" * 100]
    sig = signer.sign(frames)
    assert not signer.verify(sig, [b"Header", frames[1]])
    assert not signer.verify(sig, [frames[0], frames[1][:-1] + b"X"])
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    assert not signer.verify(flipped, frames)


@pytest.mark.parametrize("sig", [b"", b"\x00", b"\x00" * (SIG_BYTES - 1), b"\x00" * SIG_BYTES,
                                 b"\x00" * (SIG_BYTES + 1)])
def test_unsigned_or_wrong_length_signatures_fail(sig: bytes) -> None:
    assert not Signer(new_key()).verify(sig, [b"header"])


def test_another_key_does_not_verify() -> None:
    frames = [b"header"]
    assert not Signer(new_key()).verify(Signer(new_key()).sign(frames), frames)


def test_repr_never_shows_the_key() -> None:
    key = b"\xaa" * 32
    signer = Signer(key)
    for text in (repr(signer), str(signer)):
        assert key.hex() not in text and "aaaa" not in text.lower() and "hidden" in text


def test_replay_guard_accepts_increasing_and_refuses_repeats() -> None:
    guard = ReplayGuard()
    assert guard.accept("driver", 1)
    assert not guard.accept("driver", 1)  # replayed
    assert guard.accept("driver", 5)  # gaps are allowed (a lost message is not an attack)
    assert not guard.accept("driver", 3)  # reordered / older
    assert not guard.accept("driver", 0)
    assert not guard.accept("other", 0)  # numbering starts at 1
    assert guard.accept("other", 1)  # each source has its own numbering
    guard.forget("driver")
    assert guard.accept("driver", 1)
    guard.forget("never-seen")  # harmless
