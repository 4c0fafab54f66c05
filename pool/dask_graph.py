"""Submitted tasks of a `Pool(cluster=...)`: a part of `DaskDriver` (runs on its thread only).

::

    Pool.submit (caller thread): TaskFutures among the arguments -> their Dask futures,
        client.submit(run_call, ...) -> DaskTaskFuture; then "submitted" to the driver
    add_submitted: task.waiting (an input is not done yet) or task.queued
    Dask future done -> on_done: finished (wait for its timing event), erred, cancelled
    timing event (run_call's worker.log_event) -> on_timing -> end_submitted: task.finished
        in "memory"; the value stays on the Dask worker until result() fetches it
    the caller drops the Future -> "release": task.released

Dependencies are Dask's own: each input is a Dask future among the arguments, so the value
goes from worker to worker and never through the caller, and a failing input fails its
dependents in Dask (here: with an error naming the input, as the local pool's).
"""
from __future__ import annotations

import time
from typing import Any

from .calls import Call
from .dask_mapcalls import dask_error
from .dask_tasks import DaskTask, upstream_error
from .errors import TaskCancelledError

__all__ = ["DaskGraph"]

TIMING_WAIT_S = 1.0  # a finished submit waits this long for its timing event, then goes without


class DaskGraph:
    """The Dask driver's submitted-task methods (see the module docstring)."""

    client: Any
    events: Any
    calls: dict[int, Call]
    tasks: dict[int, DaskTask]

    def add_submitted(self, task: DaskTask) -> None:
        call = task.call
        if call.id not in self.calls:
            self.announce(call)
        self.resume()
        call.submitted += 1
        call.outstanding += 1
        call.total = (call.total or 0) + 1
        self.tasks[task.id] = task
        task.waiting_on = 0
        for dep_id in task.dep_ids:
            dep = self.tasks.get(dep_id)
            if dep is not None:  # not finished yet: this task waits for it
                dep.dependents.append(task)
                task.waiting_on += 1
        task.state = "waiting" if task.waiting_on else "queued"
        self.events.emit(f"task.{task.state}", call=call.id, task=task.id, n=1)
        task.future.add_done_callback(lambda _f, tid=task.id: self._on_done(tid))

    def on_done(self, task_id: int) -> None:
        if self.client_lost():  # its Client closing cancelled it: fail it saying so
            return
        task = self.chunks.pop(task_id, None)
        if task is not None:
            self._finished.append(task)
            return
        task = self.tasks.get(task_id)
        if task is None or task.future is None:
            return
        status = task.future.status
        if status == "finished":
            timing = self._timings.pop(task_id, None)
            if timing is None:
                self._awaiting[task_id] = (task, time.monotonic() + TIMING_WAIT_S)
            else:
                self.end_submitted(task, timing)
        elif status == "error":
            self.fail_submitted(task)
        elif status == "cancelled":
            self.cancel_submitted(task, "it was cancelled in Dask")
        else:  # done, then lost with its worker before we looked: Dask runs it again
            task.future.add_done_callback(lambda _f, tid=task.id: self._on_done(tid))

    def on_timing(self, records: Any) -> None:
        """An event of `dask_remote`: records of tasks that started or (submits) ended."""
        if not isinstance(records, (list, tuple)):
            return
        for msg in records:
            if isinstance(msg, (list, tuple)) and msg:
                self.on_record(msg)

    def on_record(self, msg: Any) -> None:
        if len(msg) == 5 and msg[0] == "start" and isinstance(msg[1], int):
            self.on_started(msg[1], msg[2], msg[3], msg[4])
            return
        if not (len(msg) >= 7 and isinstance(msg[0], int)):
            return
        waiting = self._awaiting.pop(msg[0], None)
        if waiting is not None:
            self.end_submitted(waiting[0], msg)
        else:  # before the future's own completion (or even before "submitted" was read)
            self._timings[msg[0]] = msg
            while len(self._timings) > 10_000:  # of tasks that never end here: bounded
                self._timings.pop(next(iter(self._timings)))

    def on_started(self, task_id: int, wall: float, address: str, pid: Any) -> None:
        """A map chunk or a submitted task started on a Dask worker: show it running."""
        task = self.chunks.get(task_id) or self.tasks.get(task_id)
        if task is None or task.state not in ("queued", "waiting"):
            return  # ended already (its start came late), or started again (Dask re-ran it)
        w = self.workers.seen(address, pid)
        if task.state == "waiting":
            self.events.emit("task.queued", call=task.call.id, task=task.id, n=task.n,
                             was="waiting")
        task.state = "processing"
        task.call.processing += task.n  # (the snapshot's count: it must agree)
        self.events.emit("task.processing", ts=self.mono(wall), call=task.call.id, task=task.id,
                         worker=w.id if w is not None else -1, n=task.n)

    def _leave_graph(self, task: DaskTask) -> None:
        self.left_processing(task)
        self.tasks.pop(task.id, None)
        task.call.outstanding -= 1
        for child in task.dependents:
            child.waiting_on -= 1
            if child.waiting_on == 0 and child.state == "waiting":
                child.state = "queued"
                self.events.emit("task.queued", call=child.call.id, task=child.id, n=1,
                                 was="waiting")
        task.dependents = []

    def end_submitted(self, task: DaskTask, timing: list[Any]) -> None:
        """A submitted task is in memory on its Dask worker (timing: its event)."""
        if task.id not in self.tasks:
            return
        call = task.call
        was = task.state
        if was == "waiting":  # it ran before we saw its inputs end (their timings lag)
            self.events.emit("task.queued", call=call.id, task=task.id, n=1, was="waiting")
        self._leave_graph(task)
        call.done += 1
        _, t0, t1, address, pid = timing[:5]
        w = self.workers.seen(address, pid) if address else None
        start, end = self.mono(t0), self.mono(t1)
        call.sizer.observe(1, end - start)
        wid = w.id if w is not None else -1
        insights = w.finished(start, end, 1) if w is not None else {}
        if was != "processing":  # (it did not say when it started)
            self.events.emit("task.processing", ts=start, call=call.id, task=task.id,
                             worker=wid, n=1)
        self.events.emit("task.finished", call=call.id, task=task.id, worker=wid, n=1,
                         n_erred=0, start=start, end=end, state="memory", nbytes=0,
                         insights=insights, was="processing")
        task.state = "memory"
        future = task.tfuture()
        if future is not None:
            future._finish_remote()
            self.kept[task.id] = task
        else:  # the caller dropped it already: its result is released with its Dask future
            self.events.emit("task.released", call=call.id, task=task.id, n=1)
        task.future = None  # the caller's TaskFuture keeps the Dask future (and the result)
        self.maybe_end_call(call)

    def fail_submitted(self, task: DaskTask) -> None:
        call = task.call
        was = task.state
        self._leave_graph(task)
        call.erred += 1
        exc = dask_error(task.future)
        root = getattr(exc, "_taskscope_task", None)
        if root is not None and root != task.id:  # an input of it failed: Dask did not run it
            exc = upstream_error(task, root, self._key_of(root), exc)
            tb, wid, pid = f"{type(exc).__name__}: {exc}\n", -1, None
        else:
            if hasattr(exc, "add_note"):
                exc.add_note(f"taskscope: raised by {call.info['fn']}({task.arg}); task "
                             f"{task.key!r} ({call.api})")
            tb, wid, pid = str(exc.__cause__ or ""), -1, None
            timing = self._timings.pop(task.id, None)
            if timing is not None and timing[3]:
                w = self.workers.seen(timing[3], timing[4])
                wid, pid = (w.id if w else -1), timing[4]
        self._failed_keys[task.id] = task.key
        while len(self._failed_keys) > 10_000:  # the keys dependents' errors name: bounded
            self._failed_keys.pop(next(iter(self._failed_keys)))
        now = time.monotonic()
        self.events.emit("task.finished", call=call.id, task=task.id, worker=wid, n=1,
                         n_erred=1, start=now, end=now, state="erred", nbytes=0, insights={},
                         was=was)
        self.events.emit("task.erred", call=call.id, task=task.id, worker=wid, pid=pid, index=0,
                         exc_type=type(exc).__name__, message=str(exc)[:2000],
                         traceback=f"{tb}{type(exc).__name__}: {exc}\n", arg=task.arg)
        task.state = "erred"
        future = task.tfuture()
        if future is not None and not future.done():
            future.set_exception(exc)
        task.future = None
        self.maybe_end_call(call)

    def _key_of(self, task_id: int) -> str:
        return self._failed_keys.get(task_id, f"task {task_id}")

    def cancel_tasks(self, task_ids: list[int], why: str) -> None:
        """Cancel submitted tasks in Dask (and their dependents, as Dask does)."""
        tasks = [self.tasks[i] for i in task_ids if i in self.tasks]
        futures = [t.future for t in tasks if t.future is not None]
        if futures:
            self.client.cancel(futures, reason=f"taskscope: {why}")
        for task in tasks:
            self.cancel_submitted(task, why)

    def cancel_submitted(self, task: DaskTask, why: str) -> None:
        if task.id not in self.tasks:
            return
        was = task.state
        self._leave_graph(task)
        task.call.cancelled += 1
        task.state = "cancelled"
        future = task.tfuture()
        if future is not None and not future.cancelled() and not future._cancel_here() \
                and not future.done():
            future.set_exception(TaskCancelledError(f"taskscope: {task.key!r}: {why}"))
        task.future = None
        self.events.emit("task.cancelled", call=task.call.id, task=task.id, n=1, was=was)
        self.maybe_end_call(task.call)
