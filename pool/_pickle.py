"""The only module that imports cloudpickle.

Pickle protocol 5 with out-of-band buffers: large contiguous buffers (numpy arrays, bytes
objects handed over as PickleBuffer) travel as their own ZeroMQ frames, without a copy into
the pickle stream.
"""
from __future__ import annotations

import io
import pickle
import reprlib
import threading
import types
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import cloudpickle

from ._deps import Dep
from .errors import SerializationError

__all__ = ["bounded_repr", "dumps", "dumps_for", "dumps_plain_args", "loads", "nbytes"]

OOB_MIN_BYTES = 64 * 1024  # smaller buffers are cheaper inline than as a frame of their own

_repr = reprlib.Repr()
_repr.maxstring = 80
_repr.maxother = 80
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6
_repr.maxlevel = 3


def bounded_repr(obj: Any, limit: int = 200, via: Any = None) -> str:
    """A repr that cannot be huge, nor raise; `via`: a repr function of an object that
    bounds its own text (e.g. the builtin `repr`, skipping reprlib's cost)."""
    try:
        text = (via or _repr.repr)(obj)
    except Exception as exc:  # a broken __repr__ must not hide the real error
        text = f"<{type(obj).__name__} (repr failed: {exc!r})>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Reusable(threading.local):
    """One cloudpickle Pickler per thread, reused: making a Pickler (and its BytesIO) cost
    three quarters of pickling a small task (5.5 µs of 7 here; 1.6 µs reused)."""

    def __init__(self) -> None:
        self.file = io.BytesIO()
        self.buffers: list[pickle.PickleBuffer] = []
        self.pickler = cloudpickle.Pickler(self.file, protocol=5,
                                           buffer_callback=self.buffers.append)
        self.busy = False  # dumps() called again from inside a __reduce__: use a fresh one


_reusable = _Reusable()


def _dump_with(obj: Any) -> tuple[bytes, list[pickle.PickleBuffer]]:
    r = _reusable
    if r.busy:
        buffers: list[pickle.PickleBuffer] = []
        return cloudpickle.dumps(obj, protocol=5, buffer_callback=buffers.append), buffers
    r.busy = True
    try:
        r.pickler.dump(obj)
        return r.file.getvalue(), list(r.buffers)
    except BaseException:
        _reusable.__init__()  # a failed dump may leave it half-written: start afresh
        raise
    finally:
        r.busy = False
        r.file.seek(0)
        r.file.truncate()
        r.pickler.clear_memo()
        r.buffers.clear()


def dumps(obj: Any, oob: bool = True) -> list[bytes | memoryview]:
    """Pickle to frames: the pickle stream first, then its large out-of-band buffers
    (none when `oob` is false: one self-contained frame).

    Each out-of-band buffer is handed on as ``PickleBuffer.raw()``: a flat, contiguous,
    byte-format memoryview over the object's own memory (no copy). A bare PickleBuffer would
    not do: it has no ``len()``, which the signer (length-prefixed frames) and the transport's
    zero-copy threshold both need, and its item format/shape would leak into those sizes.
    """
    if type(obj) is list and len(obj) <= _SMALL_PLAIN_LIST and _all_plain(obj):
        # A map chunk of one or a few numbers or strings (chunksize=1): the stdlib's bytes
        # are cloudpickle's, without the reused pickler's ~2 µs of bookkeeping.
        return [pickle.dumps(obj, protocol=5)]
    if not oob:
        return [cloudpickle.dumps(obj, protocol=5)]
    head, taken = _dump_with(obj)
    if not taken:
        return [head]
    # Buffers that stay in-band (small, or not contiguous) need a pickle made without them.
    raws = []
    for buf in taken:
        try:
            raw = buf.raw()  # BufferError for a non-contiguous buffer: keep that one in-band
        except BufferError:
            raw = None
        if raw is None or raw.nbytes < OOB_MIN_BYTES:
            return _dumps_selective(obj)
        raws.append(raw)
    return [head, *raws]


def _dumps_selective(obj: Any) -> list[bytes | memoryview]:
    """The slow path: only large contiguous buffers out of band."""
    buffers: list[memoryview] = []

    def take(buf: pickle.PickleBuffer) -> bool:
        try:
            raw = buf.raw()
        except BufferError:
            return True
        if raw.nbytes < OOB_MIN_BYTES:
            return True  # keep small buffers in-band
        buffers.append(raw)
        return False

    head = cloudpickle.dumps(obj, protocol=5, buffer_callback=take)
    return [head, *buffers]


# id(function) -> (weak reference, whether cloudpickle pickles it as a plain reference)
_by_reference: dict[int, tuple[weakref.ref[Any], bool]] = {}
# Arguments the stdlib pickles exactly as cloudpickle does (a `Dep` stands for a Future: a
# tree's adds qualify too).
_PLAIN_TYPES = frozenset({int, float, complex, str, bytes, bool, type(None), Dep})


_SMALL_PLAIN_LIST = 16


def _all_plain(items: Iterable[Any]) -> bool:
    plain = _PLAIN_TYPES
    for x in items:
        if type(x) not in plain:
            return False
    return True


def _pickles_by_reference(fn: types.FunctionType) -> bool:
    """Whether cloudpickle pickles `fn` as an import reference (a module-level function of an
    importable module not registered by value), remembered per function object. Decided by
    comparing both picklers' bytes once: nothing of cloudpickle's private rules is copied.
    (A module registered with `cloudpickle.register_pickle_by_value` after a function of it
    was first sent keeps being sent by reference: register before submitting.)"""
    known = _by_reference.get(id(fn))
    if known is not None and known[0]() is fn:
        return known[1]
    try:
        same = pickle.dumps(fn, protocol=5) == cloudpickle.dumps(fn, protocol=5)
    except Exception:
        same = False
    if len(_by_reference) >= 1000:  # functions made per submit (closures) come and go
        _by_reference.clear()
    _by_reference[id(fn)] = (weakref.ref(fn), same)
    return same


def dumps_plain_args(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
                     ) -> tuple[bytes] | None:
    """The one-item unit ``[(args, kwargs)]`` of a call of `fn` whose function travels apart
    (protocol 1.7), pickled by the stdlib's C pickler: when `fn` is an importable function
    (cloudpickle sends those as a reference, so the worker can take it once per call) and
    every argument a plain number, text, bytes or Future (`Dep`), which the stdlib pickles
    exactly as cloudpickle does. 0.3 µs instead of 8.5 with cloudpickle and the function
    (whose reference alone costs 0.9: the pickler imports its module). None when it does not
    apply: pickle ``[(fn, args, kwargs)]`` with `dumps`."""
    if type(fn) is not types.FunctionType or not _all_plain(args) \
            or not _all_plain(kwargs.values()) or not _pickles_by_reference(fn):
        return None
    return (pickle.dumps([(args, kwargs)], protocol=5),)  # (a tuple: Task keeps it as it is)


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
    if type(frame) is bytes:  # (the common case: no memoryview made)
        return len(frame)
    try:
        return memoryview(frame).nbytes
    except TypeError:
        return len(frame)
