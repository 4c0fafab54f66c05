"""Records of the driver's bookkeeping: calls, tasks, and the caller-side result buffers.

A *call* is one ``map``/``imap``/``starmap`` invocation (or, for ``submit``, all submits of
one function); a *task* is one message's worth of a call's items (a chunk) or one submit.
"""
from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from typing import Any

from .chunking import ChunkSizer
from .errors import TaskCancelledError, TaskscopeError

__all__ = ["Call", "CallResults", "Task", "with_holder", "without_holder"]

BACKPRESSURE_ITEMS = 50_000  # an imap whose reader lags by this many results stops reading input
MAX_TAKEN = 1024  # chunks a reader takes in one hold of the results' lock


_EMPTY_TUPLE: tuple[()] = ()
_EMPTY_SET: frozenset[int] = frozenset()
# Task.holders is immutable: most results are held by one worker, and a task shares that
# worker's one-member set here instead of a set of its own (one garbage-collected object
# fewer per live submitted task).
_SOLO_HOLDERS: dict[int, frozenset[int]] = {}


def with_holder(holders: frozenset[int], wid: int) -> frozenset[int]:
    """`holders` and worker `wid`."""
    if not holders:
        solo = _SOLO_HOLDERS.get(wid)
        if solo is None:
            solo = _SOLO_HOLDERS[wid] = frozenset((wid,))
        return solo
    return holders | {wid}


def without_holder(holders: frozenset[int], wid: int) -> frozenset[int]:
    """`holders` without worker `wid`."""
    return holders - {wid} if wid in holders else holders


class Task:
    """One unit on the wire: ``n`` consecutive items of a call, or one submitted function call.

    Submitted tasks are also nodes of the task graph (graph.py): the fields after ``worker``
    are theirs.
    """

    __slots__ = ("_future", "_key", "apart", "call", "data_refs", "dependents", "deps", "error",
                 "frames", "holders", "id", "index0", "keep", "n", "nbytes", "priority",
                 "record_refs", "result_frames", "retries", "state", "timeout", "waiting_on",
                 "worker")

    def __init__(self, task_id: int, call: Call, index0: int, n: int, frames: Sequence[Any],
                 future: Future | weakref.ref[Future] | None = None, retries: int = 0, *, key: str = "",
                 priority: int = 0, keep: bool = False, timeout: float | None = None,
                 apart: bool = False) -> None:
        self.id = task_id
        self.call = call
        self.index0 = index0
        self.n = n
        # Kept while the task may have to run (again) elsewhere. A tuple: one of bytes only
        # is untracked by the garbage collector, whose passes over the many live tasks of a
        # burst of submits cost more than making them (a list stays tracked).
        self.frames: Sequence[Any] = frames if type(frames) is tuple else tuple(frames)
        # A submitted task whose frames hold only its arguments: the function is its call's
        # (Call.fn_frames), sent to each worker once (protocol 1.7, Pool._pickle_submit).
        self.apart = apart
        # Weakly held: the caller dropping its Future is what releases the task (graph.py).
        if future is not None and not isinstance(future, weakref.ref):
            future = weakref.ref(future)
        self._future = future
        self.retries = retries
        self.timeout = timeout  # seconds it may run before its worker is killed (faults.py)
        self.worker: int | None = None
        self._key = key  # "" for the default, "<function>-<task id>" (made when read)
        self.priority = priority
        self.keep = keep  # the worker keeps the result (submit) instead of only sending it
        self.state = "queued"  # waiting, queued, processing, memory, erred, cancelled, released
        # Shared empty containers until the first dependency, dependent or holder: a tiny
        # task's garbage-collected objects are what the collector's passes cost (graph.py
        # and scheduler.py swap in a list or set on the first add).
        self.deps: list[Task] | tuple[()] = _EMPTY_TUPLE
        self.dependents: list[Task] | tuple[()] = _EMPTY_TUPLE
        self.waiting_on = 0
        self.holders: frozenset[int] = _EMPTY_SET  # workers holding the result (with_holder)
        self.nbytes = 0
        self.result_frames: tuple[bytes, ...] | None = None  # the driver's copy of a small result
        self.data_refs = 0
        self.record_refs = 0
        self.error: BaseException | None = None

    @property
    def key(self) -> str:
        return self._key or f"{self.call.info['fn']}-{self.id}"

    @key.setter
    def key(self, value: str) -> None:
        self._key = value

    @property
    def has_own_key(self) -> bool:
        """Whether the caller named the task (its key is not the default)."""
        return bool(self._key) and self._key != f"{self.call.info['fn']}-{self.id}"

    @property
    def future(self) -> Future | None:
        """The caller's Future, while the caller keeps it."""
        return self._future() if self._future is not None else None

    @property
    def is_submit(self) -> bool:
        """A submitted task (a node of the task graph), not a chunk of a map call."""
        return self.call.mode == "call"


class CallResults:
    """Where the driver puts a call's results and the caller's thread takes them.

    Ordered calls are read item by item in input order; unordered ones chunk by chunk as they
    finish. The driver is told (``on_drained``) when a lagging reader catches up, so reading
    of a lazy input resumes.
    """

    def __init__(self, ordered: bool, on_drained: Any = None) -> None:
        self.ordered = ordered
        self._cond = threading.Condition()
        self._chunks: dict[int, tuple[int, list[Any], dict[int, BaseException]]] = {}
        self._arrival: list[int] = []  # chunk starts, in completion order (unordered reading)
        self._next = 0  # next item index an ordered reader wants
        self.buffered = 0  # items finished but not yet read
        self.finished = False  # no more chunks will come
        self.error: BaseException | None = None  # a call-level failure (input raised, cancelled)
        self._on_drained = on_drained
        self.paused = False  # set by the driver when it stopped reading input for this reader
        self._erred = False  # some item failed (then the call may end with chunks never run)
        self._arrived = 0  # items put so far
        self.expected: int | None = None  # items the call made into tasks (told at its end)

    # -- driver side ---------------------------------------------------------------------
    def put(self, index0: int, values: list[Any], excs: dict[int, BaseException]) -> None:
        self.put_many([(index0, values, excs)])

    def put_many(self, chunks: list[tuple[int, list[Any], dict[int, BaseException]]]) -> None:
        """Chunks ``(index0, values, excs)``, under one lock and one wake-up."""
        with self._cond:
            for index0, values, excs in chunks:
                self._chunks[index0] = (len(values), values, excs)
                self._erred = self._erred or bool(excs)
                self._arrived += len(values)
                if not self.ordered:
                    self._arrival.append(index0)
                self.buffered += len(values)
            self._cond.notify_all()

    def finish(self, error: BaseException | None = None, items: int | None = None) -> None:
        """No more chunks will come; `items`: how many the call made into tasks (a call
        ending cleanly must have put them all)."""
        with self._cond:
            if error is not None and self.error is None:
                self.error = error
            if items is not None:
                self.expected = items
            self.finished = True
            self._cond.notify_all()

    # -- caller side ---------------------------------------------------------------------
    def wait_finished(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the call to finish; True if it did."""
        with self._cond:
            return self._cond.wait_for(lambda: self.finished, timeout)

    def _wait(self, ready: Any, deadline: float | None) -> bool:
        while not ready():
            if self.finished:
                return ready()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError("taskscope: timed out waiting for results")
            # A bounded wait keeps Ctrl-C / the notebook's interrupt responsive.
            self._cond.wait(0.1 if remaining is None else min(remaining, 0.1))
        return True

    def _took(self, n: int) -> None:
        self.buffered -= n
        if self.paused and self.buffered < BACKPRESSURE_ITEMS // 2 and self._on_drained:
            self.paused = False
            self._on_drained()

    def iter_chunks(self, deadline: float | None = None) -> Iterator[tuple[int, list[Any], dict[int, BaseException]]]:
        """Yield ``(index0, values, excs)`` in input order (ordered) or completion order."""
        while True:
            with self._cond:
                if self.ordered:
                    got = self._wait(lambda: self._next in self._chunks, deadline)
                    key = self._next
                else:
                    got = self._wait(lambda: bool(self._arrival), deadline)
                    key = self._arrival[0] if got else -1
                if not got:
                    if self.error is not None:
                        raise self.error
                    if self._erred:
                        failure = self._first_failure()
                        if failure is None:
                            return  # the failure was read already; the rest was cancelled
                        # After a failure the chunks not yet run are cancelled, also ones
                        # before it (run again after a worker death, and still queued): a
                        # hole. The reader must still get the failure, not a short result.
                        self._chunks.clear()
                        yield failure
                        return
                    if self._chunks or (self.expected is not None
                                        and self._arrived < self.expected):
                        last = min(self._chunks) - 1 if self._chunks else self.expected - 1
                        raise TaskscopeError(
                            f"taskscope: internal error: the call ended without the results "
                            f"from item {self._next if self.ordered else '?'} to {last} "
                            f"({self._arrived} of {self.expected} arrived), though no item "
                            "failed; the results are dropped rather than returned incomplete. "
                            "Please report this (with the pool's dashboard or pool.report())")
                    return
                # Every chunk ready now, in one hold of the lock (map's chunksize=1 makes a
                # chunk per item); yielded after it is let go.
                ready, taken = [], 0
                while len(ready) < MAX_TAKEN:
                    n, values, excs = self._chunks.pop(key)
                    ready.append((key, values, excs))
                    taken += n
                    if self.ordered:
                        self._next = key + n
                        if self._next not in self._chunks:
                            break
                        key = self._next
                    else:
                        self._arrival.pop(0)
                        if not self._arrival:
                            break
                        key = self._arrival[0]
                self._took(taken)
            yield from ready

    def _first_failure(self) -> tuple[int, list[Any], dict[int, BaseException]] | None:
        """The first failed item of the chunks not read, as a one-item chunk."""
        erred = [(index0 + min(excs), excs[min(excs)])
                 for index0, (_, _, excs) in self._chunks.items() if excs]
        if not erred:
            return None
        index, exc = min(erred, key=lambda e: e[0])
        return index, [None], {0: exc}


class Call:
    """The driver's record of one call."""

    def __init__(self, call_id: int, api: str, mode: str, info: dict[str, Any], *,
                 fn_frames: list[Any] | None, source: Iterator[Any] | None, total: int | None,
                 sizer: ChunkSizer, results: CallResults | None, fail_fast: bool,
                 retries: int = 0, timeout: float | None = None) -> None:
        self.id = call_id
        self.api = api
        self.mode = mode  # "map": fn(item) | "star": fn(*item) | "call": item is (fn, args, kwargs)
        self.info = info  # fn, module, file, line, callsite: sent with call.started
        self.fn_frames = fn_frames
        self.source = source
        self.total = total
        self.sizer = sizer
        self.results = results
        self.fail_fast = fail_fast
        self.retries = retries
        self.timeout = timeout  # per chunk, for map calls given timeout= (faults.py)
        self.failed_inputs: dict[int, Any] = {}  # item index -> input, for FailedTask.rerun
        self.pushback: list[Any] = []  # items read but not yet sent (after a pickling failure)
        self.read = 0  # items taken from the input
        self.exhausted = source is None
        self.stopped = False  # no more input will be read (failed, cancelled, interrupted)
        self.outstanding = 0  # tasks created and not yet ended
        self.submitted = 0  # items made into tasks
        self.processing = 0
        self.done = 0
        self.erred = 0
        self.cancelled = 0
        self.status = "running"
        self.ended_reason: str | None = None
        self.started = time.monotonic()

    @property
    def producing(self) -> bool:
        """True while this call may still make tasks from its input."""
        return not self.stopped and (not self.exhausted or bool(self.pushback))

    @property
    def complete(self) -> bool:
        return not self.producing and self.outstanding == 0

    def end_status(self) -> str | None:
        """The status a map-like call ends with now, or None while it goes on or once it has
        ended (the same rule for the local and the Dask driver)."""
        if not self.complete or self.status in ("done", "cancelled", "interrupted") \
                or (self.status == "erred" and self.results is not None and self.results.finished):
            return None
        if self.ended_reason in ("interrupted", "cancelled"):
            return self.ended_reason
        # (stopped for a failure with none of its items erred: joblib's timeout expired
        # before the batches it gave up on had begun, so they were cancelled)
        failed = self.erred or self.status == "erred" or self.ended_reason == "erred"
        return "erred" if failed else "done"

    def finish_results(self) -> None:
        """Tell the caller's reader the call ended (with the error it ended with, if any)."""
        if self.results is None:
            return
        error = self.results.error
        if error is None and self.ended_reason in ("interrupted", "cancelled"):
            error = TaskCancelledError(f"taskscope: call {self.id} was {self.ended_reason}")
        self.results.finish(error, items=self.read)

    def summary(self) -> dict[str, Any]:
        """The call as the snapshot event carries it."""
        return {"call": self.id, "api": self.api, **self.info, "total": self.total,
                "submitted": self.submitted, "processing": self.processing, "done": self.done,
                "erred": self.erred, "cancelled": self.cancelled, "status": self.status,
                "started": self.started}
