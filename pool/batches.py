"""Batch calls: a call whose tasks arrive one batch at a time from outside the pool.

A joblib ``Parallel`` call (pool/joblib.py) is one: joblib cuts its tasks into batches and
hands each over as a worker frees up. The call is one row in every dashboard (one
``call.started``, ``task.*`` per batch, one ``call.ended``), like a `Pool.map`::

    caller threads                      driver thread (BatchScheduling)          worker
    open_batch_call(pool, info) -----> "open": call.started
    BatchCall.submit(items, done) ---> "submit": task.queued -> ready heap --run--> items run in
                                                                                  the call's context,
                                                                                  stop at the 1st error
    done(values, error)  <-- delivery thread <-- _Delivery.put <-- results (+ "skipped" items)
    BatchCall.set_total(n) ----------> "total": call.total
    BatchCall.close() ---------------> "close": call.ended once nothing is outstanding
    BatchCall.abort(cause) ----------> queued batches cancelled, workers running its batches killed

The completion callbacks run on the call's own delivery thread, never on the driver's: joblib
dispatches its next batch from inside them (reading the user's iterator, pickling), which must
not hold up the driver, and may itself wait for the driver.
"""
from __future__ import annotations

import queue
import threading
import warnings
from collections.abc import Callable
from typing import Any

from . import _hooks, _pickle
from ._batch_items import same_call
from .calls import Call, Task
from .chunking import ChunkSizer
from .errors import PoolClosedError, TaskCancelledError, TaskTimeoutError
from .faults import Fault

__all__ = ["BatchCall", "BatchScheduling", "open_batch_call"]

QUEUE_BEHIND_BELOW_S = 0.2  # a batch estimated shorter than this is "short" (see workers_for)
QUEUE_BEHIND_MIN_ITEMS = 8


def _short(task: Task) -> bool:
    per_item = task.call.sizer.per_item_s
    return per_item is not None and per_item * task.n < QUEUE_BEHIND_BELOW_S



Done = Callable[[list[Any] | None, BaseException | None], None]
_FINISHED = object()  # the driver ended the call: batches still waited for will not run
_END = object()  # the caller closed the call: the delivery thread exits


class _Delivery:
    """The call's results object (the driver calls `put` and `finish`, as it does a map
    call's CallResults) and the thread that hands each batch's outcome to its callback.

    The thread lives until the caller closes the call, not only until the driver ends it: an
    engine may still submit batches after the driver stopped the call (an error, the
    dashboard's cancel button) and before it heard of that; those get their cancellation too.
    """

    ordered = False
    buffered = 0
    paused = False

    def __init__(self, name: str, on_error: Callable[[int, BaseException], None]) -> None:
        self._on_error = on_error  # records a failed item (Pool.errors, for rerun())
        self.finished = False
        self.closed = False
        self.error: BaseException | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending: dict[int, Done] = {}  # index0 of a batch -> its callback
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def expect(self, index0: int, done: Done) -> None:
        with self._lock:
            self._pending[index0] = done

    # -- driver side -----------------------------------------------------------------------
    def put(self, index0: int, values: list[Any], excs: dict[int, BaseException]) -> None:
        self._queue.put((index0, values, excs))

    def finish(self, error: BaseException | None = None, items: int | None = None) -> None:
        # (`items`, which CallResults checks, means nothing here: each batch has its callback)
        if error is not None and self.error is None:
            self.error = error
        self.finished = True
        self._queue.put(_FINISHED)

    # -- caller side -----------------------------------------------------------------------
    def close(self) -> None:
        """The caller is done with the call: nothing more is delivered, at once. (An outcome
        still queued -- a batch of an aborted call that finished anyway -- must not reach the
        engine once it started its next call: joblib reuses its Parallel object.)"""
        self.closed = True
        self._queue.put(_END)

    # -- delivery thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if item is _FINISHED:
                self._fail_pending()
                continue
            index0, values, excs = item
            with self._lock:
                done = self._pending.pop(index0, None)
            if excs:
                self._on_error(index0 + min(excs), excs[min(excs)])
            if done is not None and not self.closed:
                _call(done, None if excs else values, excs[min(excs)] if excs else None)

    def _fail_pending(self) -> None:
        """Batches that will never run (cancelled after an error, an abort or a shutdown)."""
        with self._lock:
            left, self._pending = list(self._pending.values()), {}
        for done in left:
            if not self.closed:
                _call(done, None, self.error or TaskCancelledError(
                    "taskscope: the batch was cancelled before it ran"))


def _call(done: Done, values: list[Any] | None, error: BaseException | None) -> None:
    try:
        done(values, error)
    except BaseException as exc:  # the callback is the engine's; it must not end the thread
        warnings.warn(f"taskscope: a batch completion callback failed: {exc!r}", RuntimeWarning,
                      stacklevel=1)


class BatchCall:
    """The caller's handle of one batch call; every method is safe from any thread."""

    def __init__(self, pool: Any, call: Call, delivery: _Delivery) -> None:
        self.pool = pool
        self.call = call
        self._delivery = delivery
        self._lock = threading.Lock()
        self._next_index = 0
        self.closed = False

    @property
    def id(self) -> int:
        return self.call.id

    @property
    def sizer(self) -> ChunkSizer:
        """Chooses batch sizes from the measured time per item (pool/chunking.py)."""
        return self.call.sizer

    def submit(self, items: list[tuple[Any, tuple[Any, ...], dict[str, Any]]], done: Done) -> None:
        """Run ``fn(*args, **kwargs)`` for each ``(fn, args, kwargs)`` of `items` in one worker.

        ``done(values, None)`` or ``done(None, error)`` is called once, on the delivery thread;
        a batch that cannot be pickled fails (its error names the item), it does not raise here.
        """
        with self._lock:
            index0 = self._next_index
            self._next_index += len(items)
        self._delivery.expect(index0, done)
        driver = self.pool._driver
        task = Task(driver.new_task_id(), self.call, index0, len(items), [])
        try:
            task.frames = _pickle.dumps(same_call(items) or items)  # one function: a column
        except Exception:
            driver.command("batch", "fail", task, _unpicklable(items, index0), _arg_of(items))
            return
        self.call.sizer.observe_bytes(len(items), sum(_pickle.nbytes(f) for f in task.frames))
        driver.command("batch", "submit", task)

    def set_total(self, total: int) -> None:
        """The number of items of the whole call, once known."""
        self.pool._driver.command("batch", "total", self.call, int(total))

    def close(self) -> None:
        """No more batches: the call ends once the submitted ones have."""
        if not self.closed:
            self.closed = True
            _command(self.pool, "close", self.call)
            self._delivery.close()

    def abort(self, cause: str = "cancelled", message: str = "") -> None:
        """Stop the call: its queued batches are cancelled, the workers running its batches
        are killed (and replaced). `cause`: ``erred`` (a batch failed), ``timeout`` (the
        running batches fail with `TaskTimeoutError` saying `message`), ``interrupted``
        (Ctrl-C; the pool shows "interrupted") or ``cancelled``."""
        _command(self.pool, "abort", self.call, cause, message)


def _command(pool: Any, *cmd: Any) -> None:
    try:
        pool._driver.command("batch", *cmd)
    except PoolClosedError:
        pass  # the pool is gone, and so is the call (its driver failed or ended it)


def _arg_of(items: list[Any]) -> str:
    try:
        _, args, kwargs = items[0]
        return _pickle.bounded_repr((*args, *kwargs.values()))
    except Exception:
        return _pickle.bounded_repr(items)


def _unpicklable(items: list[Any], index0: int) -> BaseException:
    """The error of a batch that cannot be pickled, naming the first culprit."""
    for i, (fn, args, kwargs) in enumerate(items):
        try:
            _pickle.dumps_for(fn, f"the function of item {index0 + i}")
            for k, arg in enumerate(args):
                _pickle.dumps_for(arg, f"argument {k} of item {index0 + i}")
            for name, arg in kwargs.items():
                _pickle.dumps_for(arg, f"keyword argument {name!r} of item {index0 + i}")
        except Exception as exc:
            return exc
    try:
        _pickle.dumps_for(items, f"items {index0}-{index0 + len(items) - 1}")
    except Exception as exc:
        return exc
    return TaskCancelledError("taskscope: the batch could not be pickled")  # pragma: no cover


def open_batch_call(pool: Any, info: dict[str, Any], *, api: str, context: Any = None,
                    total: int | None = None, sizer: ChunkSizer | None = None) -> BatchCall:
    """Start a batch call on `pool`: one call in its dashboards, named by `info` (``fn,
    module, file, line, callsite``, see callsite.py).

    `context`, if given, is pickled once and sent to each worker once: a callable returning
    the context manager each batch of the call runs in (pool/_joblib_worker.py's is one).
    """
    pool._check_open()
    context_frames = _pickle.dumps_for(context, "the batch call's worker context")
    call_box: list[Call] = []
    delivery = _Delivery(f"taskscope-{pool.name}-batches",
                         lambda index, exc: pool._record_failure(call_box[0], index, exc))
    call = Call(next(pool._call_ids), api, "batch", info, fn_frames=context_frames,
                source=None, total=total, sizer=sizer or ChunkSizer(pool.n_workers, total),
                results=delivery, fail_fast=True)
    call.exhausted = False  # open: more batches may come (BatchCall.close ends that)
    call_box.append(call)
    handle = BatchCall(pool, call, delivery)
    try:
        pool._driver.command("batch", "open", call)
    except PoolClosedError:
        delivery.finish()
        raise
    _hooks.run("call_started", pool, call)
    return handle


class BatchScheduling:
    """Driver methods for batch calls (mixed into `Driver`; driver thread only)."""

    # provided by Driver
    events: Any
    calls: dict[int, Call]

    def workers_for(self, task: Task, free: list[Any]) -> list[Any]:
        """Of the workers with room, those `task` may go to.

        A batch call's batch goes to an idle worker, except that a known-short batch may wait
        at a worker running only known-short batches of at least QUEUE_BEHIND_MIN_ITEMS items
        (their time is an average over many items, so no outlier hides in it): that hides the
        round trip between tiny batches. Never behind a single long task: joblib's
        return_as="generator_unordered" promises the fastest results first.
        """
        if task.call.mode != "batch":
            return free
        idle = [w for w in free if not w.inflight and not w.reserved]
        if idle or not _short(task):
            return idle
        return [w for w in free if not w.reserved and all(
            t.call.mode == "batch" and t.n >= QUEUE_BEHIND_MIN_ITEMS and _short(t)
            for t in w.inflight.values())]

    def batch_command(self, what: str, *args: Any) -> None:
        getattr(self, f"_batch_{what}")(*args)

    def _batch_open(self, call: Call) -> None:
        if self.closing or self.broken is not None:
            call.results.finish(self.broken or PoolClosedError("taskscope: the pool is shutting down"))
            return
        self.resume_after_interrupt()
        self.announce(call)

    def _batch_submit(self, task: Task) -> None:
        call = task.call
        call.submitted += task.n
        call.outstanding += 1
        self.events.emit("task.queued", call=call.id, task=task.id, n=task.n)
        if self.closing or self.broken is not None:
            self.fail_task(task, self.broken or PoolClosedError(
                "taskscope: the pool is shutting down; the batch was not run"), None)
        elif call.stopped:
            # The call was stopped before the engine heard of it: what still comes is cancelled.
            self.end_cancelled(task)
            call.results.put(task.index0, [], {0: TaskCancelledError(
                f"taskscope: the batch was cancelled: call {call.id} was stopped")})
        else:
            self.push_ready(task)

    def _batch_fail(self, task: Task, exc: BaseException, arg: str) -> None:
        call = task.call
        call.submitted += task.n
        call.outstanding += 1
        self.events.emit("task.queued", call=call.id, task=task.id, n=task.n)
        self.fail_task(task, exc, None, arg=arg)

    def _batch_total(self, call: Call, total: int) -> None:
        if call.total != total:
            call.total = total
            self.events.emit("call.total", call=call.id, total=total)

    def _batch_close(self, call: Call) -> None:
        call.exhausted = True
        if call.total is None or call.total < call.submitted:
            self._batch_total(call, call.submitted)
        self.maybe_end_call(call)

    def _batch_abort(self, call: Call, cause: str, message: str) -> None:
        if call.complete:
            return
        reason = {"interrupted": "interrupted", "cancelled": "cancelled"}.get(cause, "erred")
        self.stop_call(call, reason)
        if cause == "timeout":
            self._kill_for_call_timeout(call, message)
        else:
            self.interrupt_running(lambda t: t.call is call,
                                   f"call {call.id} ({call.info['fn']}, {call.api})")
        if cause == "interrupted":
            self.mark_interrupted()
        self.maybe_end_call(call)

    def _kill_for_call_timeout(self, call: Call, message: str) -> None:
        """The engine's timeout expired: the call's running batches fail with it."""
        for w in list(self.workers.values()):
            if w.exited or w.fault is not None:
                continue
            targets = {t.id for t in self.running_tasks(w) if t.call is call}
            if not targets:
                continue

            def error(t: Task, w: Any, code: int | None, sig: int | None) -> BaseException:
                return TaskTimeoutError(
                    f"{message}; batch {t.id} (items {t.index0}-{t.index0 + t.n - 1}) was "
                    f"running in worker {w.id} (pid {w.pid}), which the pool stopped and replaced",
                    worker=w.id, pid=w.pid)

            self.kill_worker(w, Fault("timeout", targets, message, error))
