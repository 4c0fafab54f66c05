"""The only module that imports cloudpickle.

Pickle protocol 5 with out-of-band buffers: large contiguous buffers (numpy arrays, bytes
objects handed over as PickleBuffer) travel as their own ZeroMQ frames, without a copy into
the pickle stream.
"""
from __future__ import annotations

import pickle
import reprlib
from collections.abc import Sequence
from typing import Any

import cloudpickle

from .errors import SerializationError

__all__ = ["bounded_repr", "dumps", "dumps_for", "loads"]

OOB_MIN_BYTES = 64 * 1024  # smaller buffers are cheaper inline than as a frame of their own

_repr = reprlib.Repr()
_repr.maxstring = 80
_repr.maxother = 80
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6
_repr.maxlevel = 3


def bounded_repr(obj: Any, limit: int = 200) -> str:
    """A repr that cannot be huge, nor raise."""
    try:
        text = _repr.repr(obj)
    except Exception as exc:  # a broken __repr__ must not hide the real error
        text = f"<{type(obj).__name__} (repr failed: {exc!r})>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dumps(obj: Any, oob: bool = True) -> list[bytes | pickle.PickleBuffer]:
    """Pickle to frames: the pickle stream first, then its large out-of-band buffers
    (none when `oob` is false: one self-contained frame)."""
    buffers: list[pickle.PickleBuffer] = []

    def take(buf: pickle.PickleBuffer) -> bool:
        raw = buf.raw()
        if not oob or raw.nbytes < OOB_MIN_BYTES:
            return True  # keep small buffers in-band
        buffers.append(buf)
        return False

    head = cloudpickle.dumps(obj, protocol=5, buffer_callback=take)
    return [head, *buffers]


def dumps_for(obj: Any, what: str, oob: bool = True) -> list[bytes | pickle.PickleBuffer]:
    """`dumps`, turning any failure into a SerializationError that names `what`."""
    try:
        return dumps(obj, oob)
    except Exception as exc:
        raise SerializationError(
            f"taskscope: cannot pickle {what} ({bounded_repr(obj, 120)}): "
            f"{type(exc).__name__}: {exc}. Everything sent to a worker must be picklable by "
            f"cloudpickle: move open files, locks, sockets or connections into the function "
            f"(or an initializer), or pass what is needed to rebuild them.") from exc


def loads(frames: Sequence[Any]) -> Any:
    """Unpickle frames made by `dumps`. Call only on frames whose signature was verified."""
    return pickle.loads(frames[0], buffers=frames[1:])
