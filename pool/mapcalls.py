"""Map calls: a part of the driver (mixed into `Driver`, so it runs on the driver thread only).

::

    map/imap/starmap -> Call (lazy input) -> start_call: queued for production
    dispatch() asks next_chunk(w) for work whenever a worker has room:
        the oldest call that can produce reads its next chunk (size from the call's
        ChunkSizer), pickles it, and hands it out as one Task; an item that cannot be
        pickled fails alone; an imap whose reader lags stops reading (back-pressure)
    cancel_call/stop_call: stop reading, cancel what is not on a worker yet
    maybe_end_call: once nothing is outstanding, publish call.ended and wake the caller

Submitted tasks (`pool.submit`, the task graph) are graph.py's.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from . import _pickle
from .calls import BACKPRESSURE_ITEMS, Call, Task
from .chunking import ItemTimes
from .errors import PoolClosedError

if TYPE_CHECKING:
    from .lifecycle import WorkerRecord

__all__ = ["MapCalls"]


class MapCalls:
    """The driver's map-call methods (see the module docstring)."""

    def start_call(self, call: Call) -> None:
        if self.closing or self.broken is not None:
            err = self.broken or PoolClosedError("taskscope: the pool is shutting down")
            call.results.finish(err) if call.results else None
            return
        self.resume_after_interrupt()
        self.uses_timeout(call.timeout)
        self.announce(call)
        if call.mode in ("map", "star"):
            prior = self.item_times.get(ItemTimes.key(call.mode, call.fn_frames))
            if prior is not None:
                call.sizer.seed(*prior)
        self._producing.append(call)

    def cancel_call(self, call_id: int, reason: str) -> None:
        call = self.calls.get(call_id)
        if call is None or call.complete:
            return
        self.stop_call(call, reason)
        if reason == "interrupted":
            # The notebook user wants the CPU back: stop the call's running tasks too (their
            # workers are killed and replaced; the tasks end as cancelled).
            self.interrupt_running(lambda t: t.call is call, f"call {call.id} ({call.api})")
            self.mark_interrupted()
        self.maybe_end_call(call)

    def stop_call(self, call: Call, reason: str) -> None:
        """Stop reading the call's input and cancel its tasks not yet sent to a worker."""
        if call.stopped:
            return
        call.stopped = True
        call.ended_reason = reason
        n_cancelled = 0
        for task in self.remove_ready(lambda t: t.call is call):
            n_cancelled += task.n
            call.outstanding -= 1
            task.state = "cancelled"
            future = task.future
            if future is not None:
                future.cancel()
            self.events.emit("task.cancelled", call=call.id, task=task.id, n=task.n, was="queued")
        unread = len(call.pushback)
        if call.total is not None:
            unread = call.total - call.submitted
        call.pushback.clear()
        if unread > 0:
            self.events.emit("task.cancelled", call=call.id, task=0, n=unread)
        call.cancelled += n_cancelled + max(0, unread)

    def next_chunk(self, w: WorkerRecord) -> Task | None:
        """The next chunk of the oldest map call that can make one."""
        while self._producing:
            call = self._producing[0]
            if not call.producing:
                self._producing.popleft()
                self.maybe_end_call(call)
                continue
            if call.results is not None and call.results.buffered > BACKPRESSURE_ITEMS \
                    and call.api in ("imap", "imap_unordered"):
                call.results.paused = True  # the reader lags: stop reading its input
                self._producing.rotate(-1)
                if all(c.results is not None and c.results.paused for c in self._producing):
                    return None
                continue
            held = 0  # (only a seeded short call asks: see ChunkSizer.may_take)
            if call.sizer.seeded and call.sizer.short_call():
                held = sum(t.n for t in w.inflight.values() if t.call is call)
            if not call.sizer.may_take(w.id, bool(w.messages), held):
                return None  # the last round's other chunks are for the other workers
            task = self.make_chunk(call, w)
            if task is not None:
                return task
        return None

    def make_chunk(self, call: Call, w: WorkerRecord) -> Task | None:
        remaining = None if call.total is None else call.total - call.submitted
        size = call.sizer.next_size(remaining, w.id)
        if w.budget is not None:
            size = max(1, min(size, w.budget))
        items = call.pushback[:size]
        del call.pushback[:size]
        if len(items) < size and not call.exhausted:
            try:
                items.extend(itertools.islice(call.source, size - len(items)))
            except BaseException as exc:  # the caller's input raised: the call fails with it
                call.exhausted = True
                if hasattr(exc, "add_note"):
                    exc.add_note(f"taskscope: raised by the input iterable of call {call.id}, "
                                 f"after {call.read + len(items)} item(s)")
                if call.results is not None:
                    call.results.error = exc
                self.stop_call(call, "erred")
                call.status = "erred"
            if len(items) < size:
                call.exhausted = True
                if call.total is None:
                    call.total = call.read + len(items) + len(call.pushback)
                    self.events.emit("call.total", call=call.id, total=call.total)
        if not items:
            return None
        index0 = call.read
        try:
            frames = _pickle.dumps(items)
        except Exception:
            frames, items = self.split_unpicklable(call, items, index0)
            if not items:
                return None
        call.read += len(items)
        call.submitted += len(items)
        call.outstanding += 1
        call.sizer.observe_bytes(len(items), _pickle.nbytes(frames[0]) if len(frames) == 1
                                 else sum(_pickle.nbytes(f) for f in frames))
        task = Task(self.new_task_id(), call, index0, len(items), frames, retries=call.retries,
                    timeout=call.timeout)
        if task.n == 1:  # (map's chunksize=1: once per item)
            self.events.emit_plain("task.queued", call.id, task.id)
        else:
            self.events.emit("task.queued", call=call.id, task=task.id, n=task.n)
        return task

    def split_unpicklable(self, call: Call, items: list[Any], index0: int) -> tuple[list[Any], list[Any]]:
        """Send the items before the first unpicklable one; fail that one; keep the rest."""
        for i, item in enumerate(items):
            try:
                _pickle.dumps_for(item, f"item {index0 + i} of the input")
            except Exception as exc:
                if i:  # the bad item goes back too: first of the next chunk, it fails there
                    call.pushback[:0] = items[i:]
                    return _pickle.dumps(items[:i]), items[:i]
                call.pushback[:0] = items[1:]
                # the bad item is first: it ends here, as a failed one-item task
                call.read += 1
                call.submitted += 1
                call.outstanding += 1
                task = Task(self.new_task_id(), call, index0, 1, [])
                self.events.emit("task.queued", call=call.id, task=task.id, n=1)
                self.fail_task(task, exc, None, arg=_pickle.bounded_repr(item))
                return [], []
        return _pickle.dumps(items), items  # pragma: no cover - a flaky pickler

    def maybe_end_call(self, call: Call) -> None:
        if call.mode == "call" and call.api == "submit":
            call.status = "running" if call.outstanding else "done"
            return
        status = call.end_status()
        if status is None:
            return
        call.status = status
        if call.mode in ("map", "star") and not call.sizer.seeded:  # timed by this call
            self.item_times.put(ItemTimes.key(call.mode, call.fn_frames), call.sizer)
        if call.mode == "batch" and (call.total is None or call.total < call.submitted):
            # An engine's call (joblib) stopped before the engine closed it: its total is
            # what was handed over, told before it ends (batches.py).
            self._batch_total(call, call.submitted)
        self.history.profiles.publish(self.events, force=True)  # its last stack samples
        self.events.emit("call.ended", call=call.id, status=call.status, done=call.done,
                         erred=call.erred, cancelled=call.cancelled)
        # Publish now, not at the next tick: a notebook waits for this event to leave the
        # call's progress bar at its final counts before the cell ends.
        self.events.flush()
        call.finish_results()
