"""The only module that imports cloudpickle.

Pickle protocol 5 with out-of-band buffers: large contiguous buffers (numpy arrays, bytes
objects handed over as PickleBuffer) travel as their own ZeroMQ frames, without a copy into
the pickle stream.
"""
from __future__ import annotations

import io
import pickle
import reprlib
from collections.abc import Sequence
from typing import Any

import cloudpickle

from .errors import SerializationError

__all__ = ["bounded_repr", "dumps", "dumps_for", "loads", "nbytes"]

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


def dumps(obj: Any, oob: bool = True) -> list[bytes | memoryview]:
    """Pickle to frames: the pickle stream first, then its large out-of-band buffers
    (none when `oob` is false: one self-contained frame).

    Each out-of-band buffer is handed on as ``PickleBuffer.raw()``: a flat, contiguous,
    byte-format memoryview over the object's own memory (no copy). A bare PickleBuffer would
    not do: it has no ``len()``, which the signer (length-prefixed frames) and the transport's
    zero-copy threshold both need, and its item format/shape would leak into those sizes.
    """
    buffers: list[memoryview] = []

    def take(buf: pickle.PickleBuffer) -> bool:
        if not oob:
            return True
        try:
            raw = buf.raw()  # BufferError for a non-contiguous buffer: keep that one in-band
        except BufferError:
            return True
        if raw.nbytes < OOB_MIN_BYTES:
            return True  # keep small buffers in-band
        buffers.append(raw)
        return False

    head = cloudpickle.dumps(obj, protocol=5, buffer_callback=take)
    return [head, *buffers]


def dumps_for(obj: Any, what: str, oob: bool = True) -> list[bytes | memoryview]:
    """`dumps`, turning any failure into a SerializationError that names `what`."""
    try:
        return dumps(obj, oob)
    except Exception as exc:
        raise SerializationError(
            f"taskscope: cannot pickle {what} ({bounded_repr(obj, 120)}): "
            f"{type(exc).__name__}: {exc}. Everything sent to a worker must be picklable by "
            f"cloudpickle: move open files, locks, sockets or connections into the function "
            f"(or an initializer), or pass what is needed to rebuild them.") from exc


def picklable_but_for_multiprocessing(obj: Any) -> bool:
    """True when `obj` pickles once multiprocessing's own objects (Queue, Lock, Value...: they
    pickle only while a process is being spawned) are set aside; False for anything else that
    cannot be pickled (a threading.Lock, an open file), which must be refused up front."""

    class _Probe(cloudpickle.Pickler):
        def persistent_id(self, o: Any) -> Any:
            return 0 if type(o).__module__.startswith("multiprocessing.") else None

    try:
        _Probe(io.BytesIO(), protocol=5).dump(obj)
    except Exception:
        return False
    return True


def loads(frames: Sequence[Any]) -> Any:
    """Unpickle frames made by `dumps`. Call only on frames whose signature was verified."""
    return pickle.loads(frames[0], buffers=frames[1:])


def nbytes(frame: Any) -> int:
    """The size of one frame of `dumps` (bytes, or an out-of-band buffer)."""
    try:
        return memoryview(frame).nbytes
    except TypeError:
        return len(frame)
