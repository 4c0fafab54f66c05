"""What runs on the Dask workers for `Pool(cluster=...)`: one chunk of a map, or one submit.

::

    DaskDriver --client.submit(run_chunk, fn_blob, items, ...)--> Dask worker thread
               <--gather: pickled (values, {index: exc}) + timings + errors as text--

A chunk never raises: each item's exception is caught, kept with its traceback text and a
bounded repr of its input, and the chunk's results come back pickled by taskscope (so one
value that cannot be pickled fails that item, not the chunk). A submitted call does raise, so
Dask marks it erred and fails its dependents as Dask does; its timings travel as one small
record, sent with the others of the last 100 ms as one ``worker.log_event`` over the
worker's own connection to the scheduler.

Between items a chunk checks whether Dask cancelled it (the worker marks a cancelled task
whose thread still runs as "cancelled"): a chunk stops at the next item, though Dask cannot
stop the item that is running. Imported on the workers (by reference), so it must import
nothing heavy at module level.
"""
from __future__ import annotations

import os
import threading
import time
import traceback
from typing import Any

from . import _pickle
from .errors import SerializationError, TaskError

__all__ = ["Unsendable", "run_call", "run_chunk"]

CANCEL_CHECK_S = 0.05  # a cancelled chunk stops within this long after its current item
# Start and timing records go to the pool in one event per topic every 100 ms (as the local
# pool's events): one scheduler message per task would cost the scheduler, Dask's bottleneck,
# about as much as the task itself for tiny tasks.
FLUSH_S = 0.1
_buffers: dict[str, list[list[Any]]] = {}
_buffer_lock = threading.Lock()
_flushing: set[int] = set()  # the workers (by id) whose event loop flushes the buffers
FN_CACHE_SIZE = 32  # unpickled functions kept per worker process, by their pickled bytes
_fns: dict[bytes, Any] = {}
_fns_lock = threading.Lock()


def _function(blob: bytes) -> Any:
    """The function pickled in `blob`, unpickled once per worker process."""
    fn = _fns.get(blob)
    if fn is None:
        fn = _pickle.loads([blob])
        with _fns_lock:
            if len(_fns) >= FN_CACHE_SIZE:
                _fns.pop(next(iter(_fns)))
            _fns[blob] = fn
    return fn


def _here() -> tuple[str, Any]:
    """(this Dask worker's address, a function telling whether our task was cancelled)."""
    try:
        from distributed import get_worker
        from distributed.worker import thread_state

        worker = get_worker()
        key = thread_state.key
    except Exception:  # not on a Dask worker (a local re-run): never cancelled
        return "", lambda: False

    def cancelled() -> bool:
        ts = worker.state.tasks.get(key)
        return ts is None or ts.state not in ("executing", "long-running")

    return worker.address, cancelled


class Unsendable:
    """Stands in a chunk for an input item that cannot be pickled, so that Dask can send the
    chunk and only that item fails (with the error naming it), as in the local pool."""

    __slots__ = ("message", "text")

    def __init__(self, message: str, text: str) -> None:
        self.message, self.text = message, text

    def __repr__(self) -> str:  # the item's own bounded repr, for its error's `arg`
        return self.text


def _error(index: int, exc: BaseException, item: Any) -> dict[str, Any]:
    tb = "".join(traceback.format_exception(exc))
    return {"index": index, "exc_type": type(exc).__qualname__, "message": str(exc)[:2000],
            "traceback": tb[-20_000:], "arg": _pickle.bounded_repr(item)}


def run_chunk(blob: bytes, mode: str, items: list[Any], topic: str = "",
              task_id: int = 0) -> dict[str, Any]:
    """Run `fn(item)` (mode "map") or `fn(*item)` ("star") for each item; never raises.

    With a `topic`, it first says that it started (so the panes show it running while it
    runs: Dask tells the client only when a task ended).
    """
    start = time.time()
    address, cancelled = _here()
    if topic:
        _report(topic, ["start", task_id, start, address, os.getpid()])
    values: list[Any] = []
    excs: dict[int, BaseException] = {}
    errors: list[dict[str, Any]] = []
    try:
        fn = _function(blob)
    except BaseException as exc:
        err = SerializationError(
            f"taskscope: the Dask worker {address} could not unpickle the function: "
            f"{type(exc).__name__}: {exc}. Is it defined in a module the Dask workers cannot "
            "import? Install that module on the workers, or define the function in the notebook")
        for i in range(len(items)):
            excs[i] = err
            errors.append({**_error(i, err, items[i]), "traceback": f"{err}\n"})
        items, values = [], [None] * len(items)
    longest, longest_i = -1.0, -1
    next_check = time.monotonic() + CANCEL_CHECK_S
    stopped = None
    for i, item in enumerate(items):
        t0 = time.perf_counter()
        if t0 >= next_check:
            next_check = t0 + CANCEL_CHECK_S
            if cancelled():  # nobody waits for these results any more: stop here
                stopped = i
                break
        try:
            if type(item) is Unsendable:
                raise SerializationError(item.message)
            values.append(fn(*item) if mode == "star" else fn(item))
        except BaseException as exc:  # every item ends with a result or an error
            values.append(None)
            excs[i] = exc
            errors.append(_error(i, exc, item))
        took = time.perf_counter() - t0
        if took > longest:
            longest, longest_i = took, i
    end = time.time()
    record: dict[str, Any] = {"start": start, "end": end, "worker": address, "pid": os.getpid(),
                              "thread": threading.get_ident(), "errors": errors,
                              "stopped": stopped}
    if longest_i >= 0:
        record["longest"] = [longest, _pickle.bounded_repr(items[longest_i])]
    record["frames"] = _pickle_results(values, excs, errors, items)
    return record


def _pickle_results(values: list[Any], excs: dict[int, BaseException],
                    errors: list[dict[str, Any]], items: list[Any]) -> list[bytes]:
    """(values, excs) as one frame; an exception or a value that cannot be pickled fails its
    own item with a reason (as the local pool's worker does)."""
    for index, exc in list(excs.items()):
        try:
            _pickle.loads(_pickle.dumps(exc, oob=False))  # a round trip: some only fail to load
        except Exception:
            excs[index] = TaskError(f"{type(exc).__qualname__}: {exc}")
        exc.__traceback__ = None  # the text travels in `errors`
    try:
        return _pickle.dumps((values, excs), oob=False)
    except BaseException:
        pass
    for i, value in enumerate(values):
        if i in excs:
            continue
        try:
            _pickle.dumps(value, oob=False)
        except BaseException as exc:
            values[i] = None
            excs[i] = SerializationError(
                f"taskscope: the result {_pickle.bounded_repr(value, 120)} cannot be pickled: "
                f"{type(exc).__name__}: {exc}. Return plain data (numbers, strings, lists, "
                "dicts, arrays) instead.")
            errors.append({**_error(i, excs[i], items[i]), "traceback": f"{excs[i]}\n"})
    return _pickle.dumps((values, excs), oob=False)


def run_call(blob: bytes, args: tuple[Any, ...], kwargs: dict[str, Any], topic: str,
             task_id: int, announce: bool = False) -> Any:
    """``fn(*args, **kwargs)`` for `Pool.submit`; its result stays on this Dask worker.

    Its timings go to the pool as one event on `topic` (and, with `announce`, its start as
    another); an exception is re-raised (Dask then fails the task and its dependents) with a
    note naming the worker.
    """
    start = time.time()
    address, _ = _here()
    if announce:
        _report(topic, ["start", task_id, start, address, os.getpid()])
    ok = True
    try:
        return _function(blob)(*args, **kwargs)
    except BaseException as exc:
        ok = False
        if hasattr(exc, "add_note"):
            exc.add_note(f"taskscope: raised in Dask worker {address} (pid {os.getpid()})")
        exc._taskscope_task = task_id  # type: ignore[attr-defined]  # who raised it first
        raise
    finally:
        _report(topic, [task_id, start, time.time(), address, os.getpid(),
                        threading.get_ident(), ok])


def _report(topic: str, record: list[Any]) -> None:
    """Queue one record for the pool listening on `topic`; a periodic callback on the
    worker's event loop sends each topic's queue as one event every `FLUSH_S`."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except Exception:  # not on a Dask worker (a local re-run)
        return
    with _buffer_lock:
        _buffers.setdefault(topic, []).append(record)
        install = id(worker) not in _flushing
        _flushing.add(id(worker))
    if install:
        worker.loop.add_callback(_install_flush, worker)


def _install_flush(worker: Any) -> None:  # on the worker's event loop
    from tornado.ioloop import PeriodicCallback

    # Kept in the worker's own table: it stops them all when it closes.
    pc = PeriodicCallback(lambda: _flush(worker), FLUSH_S * 1000)
    worker.periodic_callbacks["taskscope-events"] = pc
    pc.start()


def _flush(worker: Any) -> None:
    with _buffer_lock:
        if not _buffers:
            return
        batches = list(_buffers.items())
        _buffers.clear()
    for topic, records in batches:
        try:
            worker.log_event(topic, records)
        except Exception:  # a closing worker: the pool ends these tasks without timings
            pass
