"""Map calls of a `Pool(cluster=...)`: a part of `DaskDriver` (runs on its thread only).

::

    map/imap/starmap -> Call (lazy input) -> start_call: queued for production
    dispatch(): while fewer than PREFETCH chunks per Dask worker thread are in flight, the
        oldest call that can produce reads its next chunk (size from its ChunkSizer) and
        submits it as one Dask task (dask_remote.run_chunk); an imap whose reader lags stops
        reading (back-pressure)
    done callbacks -> collect_finished(): one gather for every chunk finished since the last
        loop; timings feed the ChunkSizer, results the caller's CallResults
    cancel_call/stop_call: stop reading, cancel the call's chunks in Dask
    maybe_end_call: once nothing is outstanding, publish call.ended and wake the caller
"""
from __future__ import annotations

import time
from typing import Any

from . import _pickle
from .calls import BACKPRESSURE_ITEMS, Call
from .dask_remote import Unsendable, run_chunk
from .dask_tasks import DaskTask
from .errors import PoolClosedError, RemoteTraceback, SerializationError, chain_remote

__all__ = ["PREFETCH", "DaskMapCalls", "dask_error"]

PREFETCH = 2  # chunks in flight per Dask worker thread: one running, one queued behind it
MAX_ERROR_EVENTS_PER_CALL = 1000  # beyond this, errors are counted but not each published
MAX_FETCHES = 5  # a chunk whose result keeps getting lost before it is fetched fails
# A task expected to run at least this long says when it starts (one small event through the
# scheduler), so the panes show it running; shorter ones are shown when they end (Dask tells
# a client only that), which saves the scheduler a message per tiny task.
ANNOUNCE_ABOVE_S = 0.02


def stand_ins(items: list[Any], index0: int) -> list[Any] | None:
    """`items` with each one that cannot be pickled replaced by an `Unsendable` naming it (so
    only those items fail), or None when every item pickles (Dask failed for another reason)."""
    out, bad = [], False
    for i, item in enumerate(items):
        try:
            _pickle.dumps_for(item, f"item {index0 + i} of the input")
        except SerializationError as err:
            out.append(Unsendable(str(err), _pickle.bounded_repr(item)))
            bad = True
        else:
            out.append(item)
    return out if bad else None


def announces(sizer: Any, n: int) -> bool:
    """Whether a task of `n` items should report its start (unknown duration: yes)."""
    return sizer.per_item_s is None or sizer.per_item_s * n >= ANNOUNCE_ABOVE_S


class DaskMapCalls:
    """The Dask driver's map-call methods (see the module docstring)."""

    client: Any
    events: Any
    calls: dict[int, Call]
    chunks: dict[int, DaskTask]

    def start_call(self, call: Call) -> None:
        if self.closing:
            call.results.finish(PoolClosedError("taskscope: the pool is shutting down"))
            return
        self.resume()
        self.announce(call)
        self._producing.append(call)

    def dispatch(self) -> None:
        """Keep `PREFETCH` chunks per worker thread in flight, oldest call first."""
        if self._cancel_pending:
            self._cancel_pending = False
            for call in list(self.calls.values()):
                if not call.complete:
                    self.cancel_call(call.id, "cancelled")
            self.cancel_tasks(list(self.tasks), "the pool was shut down with cancel_futures=True")
        limit = PREFETCH * max(1, self.workers.threads)
        while len(self.chunks) < limit and self._producing:
            call = self._producing[0]
            if not call.producing:
                self._producing.popleft()
                self.maybe_end_call(call)
                continue
            if call.results.buffered > BACKPRESSURE_ITEMS and call.api in ("imap", "imap_unordered"):
                call.results.paused = True  # its reader lags: read no more of its input for now
                self._producing.rotate(-1)
                if all(c.results.paused for c in self._producing):
                    return
                continue
            self.submit_chunk(call)

    def submit_chunk(self, call: Call) -> None:
        remaining = None if call.total is None else call.total - call.read
        size = call.sizer.next_size(remaining)
        items = []
        try:
            for item in call.source:
                items.append(item)
                if len(items) >= size:
                    break
            else:
                call.exhausted = True
        except BaseException as exc:  # the caller's input raised: the call fails with it
            call.exhausted = True
            if hasattr(exc, "add_note"):
                exc.add_note(f"taskscope: raised by the input iterable of call {call.id}, "
                             f"after {call.read + len(items)} item(s)")
            call.results.error = exc
            self.stop_call(call, "erred")
            call.status = "erred"
            items = []
        if call.exhausted and call.total is None and call.results.error is None:
            call.total = call.read + len(items)
            self.events.emit("call.total", call=call.id, total=call.total)
        if not items:
            self.maybe_end_call(call)
            return
        task = DaskTask(self.new_task_id(), call, call.read, items)
        call.read += len(items)
        call.submitted += len(items)
        call.outstanding += 1
        # pure=False: equal inputs must still run (a Pool's semantics), with a key of its own.
        topic = self.topic if announces(call.sizer, len(items)) else ""
        self.events.emit("task.queued", call=call.id, task=task.id, n=task.n)
        key = f"{call.info['fn']}-{self.pool_id[:8]}-{task.id}"
        try:
            task.future = self.client.submit(run_chunk, call.fn_frames[0], call.mode, items,
                                             topic, task.id, key=key, pure=False)
        except Exception as exc:  # Dask could not serialize an item: only that item fails
            sendable = stand_ins(items, task.index0)
            try:
                if sendable is None:
                    raise
                # A new key: the failed submit may have registered the first one.
                task.future = self.client.submit(run_chunk, call.fn_frames[0], call.mode,
                                                 sendable, topic, task.id, key=f"{key}-s",
                                                 pure=False)
            except Exception:
                self.fail_chunk(task, SerializationError(
                    f"taskscope: Dask could not send items {task.index0}-"
                    f"{task.index0 + task.n - 1} of the input: {exc}"))
                return
        self.chunks[task.id] = task
        task.future.add_done_callback(lambda _f, tid=task.id: self._on_done(tid))

    def collect_finished(self) -> None:
        """Fetch the results of every map chunk that finished since the last loop: one
        round trip for all of them.

        A chunk's future can be finished when its callback runs and no longer when we look:
        the worker holding its result died, and Dask computes it again. Such a chunk is
        watched again (so is one whose fetch failed that way), up to `MAX_FETCHES` times.
        """
        if not self._finished or self.client_lost():
            return
        batch, self._finished = self._finished, []
        ok, again = [], []
        for task in batch:
            if task.future is None:
                continue  # ended meanwhile (its call was cancelled)
            status = task.future.status
            if status == "finished":
                ok.append(task)
            elif status == "error":
                self.fail_chunk(task, dask_error(task.future))
            elif status == "cancelled":
                self.end_cancelled(task)
            else:  # "pending"/"lost": Dask runs it again
                again.append(task)
        records: list[Any] = []
        if ok:
            try:
                records = self.client.gather([t.future for t in ok])
            except Exception as exc:  # a result lost on its way: watch those chunks again
                for task in ok:
                    task.fetches += 1
                    if task.fetches >= MAX_FETCHES:
                        self.fail_chunk(task, exc)
                    else:
                        again.append(task)
                ok = []
        for task, rec in zip(ok, records, strict=True):
            self.finish_chunk(task, rec)
        for task in again:
            self.chunks[task.id] = task
            task.future.add_done_callback(lambda _f, tid=task.id: self._on_done(tid))

    def left_processing(self, task: DaskTask) -> None:
        """A task that had said it started ends (the call's count of running items)."""
        if task.state == "processing":
            task.call.processing -= task.n

    def finish_chunk(self, task: DaskTask, rec: dict[str, Any]) -> None:
        self.left_processing(task)
        call = task.call
        call.outstanding -= 1
        task.future = None
        w = self.workers.seen(rec["worker"], rec["pid"])
        start, end = self.mono(rec["start"]), self.mono(rec["end"])
        call.sizer.observe(task.n, end - start)
        try:
            values, excs = _pickle.loads(rec["frames"])
        except BaseException as exc:
            values, excs = [None] * task.n, dict.fromkeys(range(task.n), exc)
        errors = {e["index"]: e for e in rec.get("errors", ())}
        chain_remote(excs, errors, call, task.index0,
                     f"Dask worker {rec['worker']} (pid {rec['pid']})")
        for index in excs:
            if len(call.failed_inputs) < 100:
                call.failed_inputs[task.index0 + index] = task.items[index]
        task.items = []
        n_erred = len(excs)
        call.done += task.n - n_erred
        call.erred += n_erred
        insights = w.finished(start, end, task.n) if w is not None else {}
        wid = w.id if w is not None else -1
        if task.state != "processing":  # (it did not say when it started)
            self.events.emit("task.processing", ts=start, call=call.id, task=task.id,
                             worker=wid, n=task.n)
        self.events.emit("task.finished", call=call.id, task=task.id, worker=wid, n=task.n,
                         n_erred=n_erred, start=start, end=end, state="released",
                         nbytes=len(rec["frames"][0]), insights=insights,
                         longest=rec.get("longest"), was="processing")
        self.emit_errors(call, task, wid, rec.get("pid"), errors)
        call.results.put(task.index0, values, excs)
        if excs and call.fail_fast:
            self.stop_call(call, "erred", keep_before=task.index0 + min(excs))
        self.maybe_end_call(call)

    def emit_errors(self, call: Call, task: DaskTask, wid: int, pid: Any,
                    errors: dict[int, dict[str, Any]]) -> None:
        sent = self._error_events.get(call.id, 0)
        for index in sorted(errors)[: max(0, MAX_ERROR_EVENTS_PER_CALL - sent)]:
            info = errors[index]
            self.events.emit("task.erred", call=call.id, task=task.id, worker=wid, pid=pid,
                             index=task.index0 + index, exc_type=info["exc_type"],
                             message=info["message"], traceback=info["traceback"],
                             arg=info["arg"])
        self._error_events[call.id] = sent + len(errors)

    def fail_chunk(self, task: DaskTask, exc: BaseException) -> None:
        """A whole chunk failed in Dask (its worker died too often, or it could not run)."""
        self.left_processing(task)
        call = task.call
        call.outstanding -= 1
        call.erred += task.n
        task.future = None
        if hasattr(exc, "add_note"):
            exc.add_note(f"taskscope: items {task.index0}-{task.index0 + task.n - 1} of call "
                         f"{call.id} ({call.api}) failed as one Dask task")
        now = time.monotonic()
        self.events.emit("task.finished", call=call.id, task=task.id, worker=-1, n=task.n,
                         n_erred=task.n, start=now, end=now, state="erred", nbytes=0,
                         insights={}, was=task.state)
        self.events.emit("task.erred", call=call.id, task=task.id, worker=-1, pid=None,
                         index=task.index0, exc_type=type(exc).__name__, message=str(exc),
                         traceback=str(exc.__cause__ or f"{type(exc).__name__}: {exc}\n"),
                         arg="")
        call.results.put(task.index0, [None] * task.n, dict.fromkeys(range(task.n), exc))
        if call.fail_fast:
            self.stop_call(call, "erred", keep_before=task.index0)
        self.maybe_end_call(call)

    def cancel_call(self, call_id: int, reason: str) -> None:
        call = self.calls.get(call_id)
        if call is None or call.complete:
            return
        self.stop_call(call, reason)
        if reason == "interrupted" and self.status != "interrupted":
            self.status = "interrupted"
            self.events.emit("pool.status", status="interrupted")
        self.maybe_end_call(call)

    def stop_call(self, call: Call, reason: str, keep_before: int | None = None) -> None:
        """Read no more of the call's input and cancel its chunks in Dask. A chunk already
        running stops at its next item; the item running then runs to its end (Dask cannot
        stop a running task's thread). With `keep_before` (an item failed: the caller gets
        every result before it, then the error), chunks of earlier items run on."""
        if call.stopped:
            return
        call.stopped = True
        call.ended_reason = reason
        if call.total is not None and call.total > call.read:  # (first: the last chunk
            unread = call.total - call.read  # cancelled below ends the call)
            call.cancelled += unread
            self.events.emit("task.cancelled", call=call.id, task=0, n=unread)
        mine = [t for t in self.chunks.values() if t.call is call
                and (keep_before is None or t.index0 > keep_before)]
        if mine:
            self.client.cancel([t.future for t in mine], reason=f"taskscope: call {reason}")
        for task in mine:
            self.end_cancelled(task)

    def end_cancelled(self, task: DaskTask) -> None:
        self.left_processing(task)
        self.chunks.pop(task.id, None)
        call = task.call
        call.outstanding -= 1
        call.cancelled += task.n
        task.future, task.items = None, []
        self.events.emit("task.cancelled", call=call.id, task=task.id, n=task.n, was=task.state)
        self.maybe_end_call(call)

    def maybe_end_call(self, call: Call) -> None:
        if call.api == "submit":
            call.status = "running" if call.outstanding else "done"
            return
        status = call.end_status()
        if status is None:
            return
        call.status = status
        self.events.emit("call.ended", call=call.id, status=call.status, done=call.done,
                         erred=call.erred, cancelled=call.cancelled)
        self.events.flush()  # a notebook waits for this event before its cell ends
        call.finish_results()


def dask_error(future: Any) -> BaseException:
    """The exception of an erred Dask future, with Dask's remote traceback as __cause__."""
    try:
        exc = future.exception()
        tb = future.traceback()
    except BaseException as err:
        return err
    import traceback as _tb

    text = "".join(_tb.format_tb(tb)) if tb is not None else ""
    if exc.__cause__ is None:
        exc.__cause__ = RemoteTraceback(f"Traceback (most recent call last, on the Dask "
                                        f"worker):\n{text}{type(exc).__name__}: {exc}\n")
    return exc
