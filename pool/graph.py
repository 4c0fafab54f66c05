"""The task graph of submitted tasks: dependencies, results kept on workers, reference counts.

A part of the driver (mixed into `Driver`, so it runs on the driver thread only)::

    submit(f, fut_a, fut_b) -> Task(deps=[a, b])  waiting --deps in memory--> queued (heap)
        -> placed on the worker holding most input bytes; missing inputs are fetched from
           their holders and relayed with the task                       --> processing
        -> result kept by the worker ("memory"); small results also come back at once
        -> released when no Future and no pending dependent refers to it

Two counts keep a task's record and data alive, as Dask does with its reference counting:
``data_refs`` (its Future, plus dependents not yet computed) keeps the result on the workers;
``record_refs`` (its Future, plus dependents' records) keeps the task's spec, so a result lost
with a dead worker can be recomputed from its inputs, recursively.
"""
from __future__ import annotations

import heapq
import itertools
from collections import deque
from typing import Any

from . import _pickle, _transport
from .calls import Task, with_holder, without_holder
from .errors import TaskCancelledError, TaskError
from .futures import has_done_callbacks
from .memflow import MemFlow

__all__ = ["GraphScheduling"]


class GraphScheduling:
    """Driver methods for submitted tasks (see the module docstring)."""

    # provided by Driver: events, workers, endpoints, codec, fail_task, end_cancelled, ...
    events: Any
    workers: dict[int, Any]

    def init_graph(self) -> None:
        self.graph: dict[int, Task] = {}  # task id -> record, while referenced
        # Ready to place: tasks of priority 0 (nearly all) in order in a FIFO, O(1) each way;
        # any other priority in a heap of (-priority, seq, task). A heappop over 20,000
        # queued submits was 4% of the driver's time.
        self._fifo: deque[Task] = deque()
        self._heap: list[tuple[int, int, Task]] = []
        self._seq = itertools.count()
        self._fetches: dict[int, list[tuple[str, Any]]] = {}  # task id -> who waits for its data
        self._parked: dict[int, tuple[Task, Any, set[int]]] = {}  # dependent -> (task, worker, missing)
        self._fetch_from: dict[int, int] = {}  # task id -> the worker asked for its data
        self._cascade: list[Task] = []  # failed tasks whose dependents are still to fail
        self._cascading = False
        self.memflow = MemFlow()  # bytes held per function, fetches in flight (memflow.py)

    # ------------------------------------------------------------------ ready heap
    def push_ready(self, task: Task) -> None:
        task.state = "queued"
        if task.priority == 0:
            self._fifo.append(task)
        else:
            heapq.heappush(self._heap, (-task.priority, next(self._seq), task))

    def has_ready(self) -> bool:
        return bool(self._fifo or self._heap)

    def _heap_first(self) -> bool:
        """Whether the next ready task is the heap's: a priority above 0, or below 0 with
        the FIFO empty (highest priority first; in order within one)."""
        return bool(self._heap) and (not self._fifo or self._heap[0][0] < 0)

    def peek_ready(self) -> Task:
        return self._heap[0][2] if self._heap_first() else self._fifo[0]

    def pop_ready(self) -> Task:
        return heapq.heappop(self._heap)[2] if self._heap_first() else self._fifo.popleft()

    def remove_ready(self, pred: Any) -> list[Task]:
        """Take out every ready task for which pred(task) is true."""
        taken = [t for _, _, t in self._heap if pred(t)]
        if taken:
            self._heap = [e for e in self._heap if not pred(e[2])]
            heapq.heapify(self._heap)
        from_fifo = [t for t in self._fifo if pred(t)]
        if from_fifo:
            self._fifo = deque(t for t in self._fifo if not pred(t))
            taken += from_fifo
        return taken

    def ready_count(self) -> int:
        return len(self._fifo) + len(self._heap)

    # ------------------------------------------------------------------ adding
    def add_graph_task(self, task: Task, dep_ids: list[int]) -> None:
        """A submitted task arrives: link it to its inputs; queue it if they are all ready.

        Publishes the task's first state (task.waiting or task.queued) itself, before any
        failure or cancellation it may meet at once, so every view counts it exactly once.
        """
        self.graph[task.id] = task
        task.data_refs = task.record_refs = 1  # its Future
        deps, gone = [], []
        for dep_id in dep_ids:
            dep = self.graph.get(dep_id)
            if dep is None:  # cannot happen while the caller holds the Future; be safe
                gone.append(dep_id)
            else:
                deps.append(dep)
        task.deps = deps or ()  # (a shared empty tuple: not one more tracked list per task)
        for dep in deps:
            if not dep.dependents:
                dep.dependents = []  # (a shared empty tuple until now: calls.Task)
            dep.dependents.append(task)
            dep.data_refs += 1
            dep.record_refs += 1
        task.waiting_on = sum(1 for d in deps if d.state != "memory")
        task.state = "waiting" if task.waiting_on or gone else "queued"
        call = task.call
        # The graph pane's edges and a key the user chose ride on the task's first event
        # (1.4); a task without either still folds into a `tasks` event (coalesce.py).
        extra: dict[str, Any] = {}
        if deps:
            extra["deps"] = [d.id for d in deps]
        if task.has_own_key:
            extra["key"] = task.key
        if extra:
            self.events.emit("task." + task.state, call=call.id, task=task.id, n=1, **extra)
        else:
            self.events.emit_plain("task." + task.state, call.id, task.id)
        if gone:
            self.fail_task(task, TaskError(
                f"taskscope: task {task.key!r} depends on task {gone[0]}, which was released"), None)
            return
        for dep in deps:
            if dep.state == "erred":
                self.fail_task(task, self.upstream_error(task, dep), None)
                return
            if dep.state == "cancelled":
                self.cancel_graph_task(task, f"its input {dep.key!r} was cancelled")
                return
        if task.waiting_on == 0:
            self.push_ready(task)

    def upstream_error(self, task: Task, dep: Task) -> BaseException:
        """The error of a task that cannot run because its input `dep` failed: it names `dep`
        (and the task the failure started at, when that is further up), and its __cause__ is
        the exception that task raised (with the worker's traceback as its own cause)."""
        root_key, cause = getattr(dep.error, "_taskscope_upstream", None) or (dep.key, dep.error)
        if root_key == dep.key:
            what = f"its input {dep.key!r} failed"
        else:
            what = f"its input {dep.key!r} did not run, as its input {root_key!r} failed"
        err = TaskError(f"taskscope: task {task.key!r} did not run: {what} with "
                        f"{type(cause).__name__}: {str(cause)[:500]}")
        err.__cause__ = cause
        err._taskscope_upstream = (root_key, cause)  # type: ignore[attr-defined]
        return err

    # ------------------------------------------------------------------ placing
    def choose_worker(self, task: Task, candidates: list[Any]) -> Any:
        """The candidate holding most of the task's input bytes; ties go to the least busy."""
        if not task.deps:
            return min(candidates, key=lambda w: len(w.inflight))

        def score(w: Any) -> tuple[int, int]:
            held = sum(d.nbytes for d in task.deps if w.id in d.holders)
            return (held, -len(w.inflight))

        return max(candidates, key=score)

    def inputs_for(self, task: Task, w: Any, relayed: Any = frozenset()
                   ) -> tuple[list[dict[str, Any]], list[Any], set[int]]:
        """What `w` needs to run `task`: data it can be sent now (other than the `relayed`
        ids, already in the same message), and inputs to fetch first."""
        specs, frames, missing = [], [], set()
        for dep in task.deps:
            if w.id in dep.holders or dep.id in relayed or dep.id in (s["task"] for s in specs):
                continue
            if dep.result_frames is not None:
                specs.append({"task": dep.id, "nf": len(dep.result_frames)})
                frames.extend(dep.result_frames)
            else:
                missing.add(dep.id)
        return specs, frames, missing

    def park_for_inputs(self, task: Task, w: Any, missing: set[int]) -> None:
        """Hold `task` for `w` until its missing inputs are fetched from their holders.

        An input that is not in memory any more (lost with a worker and being recomputed)
        sends the task back to waiting instead: it is placed again once the input is back,
        and holds no slot of `w` meanwhile.
        """
        if any(self.graph[d].state != "memory" for d in missing if d in self.graph):
            self.back_to_waiting(task)
            return
        self._parked[task.id] = (task, w, missing)
        w.reserved += 1  # counts against the worker's capacity while we wait
        for dep_id in list(missing):
            self.request_fetch(dep_id, ("transfer", task.id))

    def send_with_inputs(self, task: Task, w: Any) -> None:
        """Send `task` to `w` with the inputs `w` lacks, or park it until they are fetched."""
        specs, frames, missing = self.inputs_for(task, w)
        if missing:
            self.park_for_inputs(task, w, missing)
        else:
            self.send_tasks(w, [task], specs, frames)

    def unpark(self, task: Task) -> None:
        parked = self._parked.pop(task.id, None)
        if parked is not None:
            parked[1].reserved -= 1

    def unqueue(self, task: Task) -> None:
        """Take a queued task out of the ready heap, or out of the parked ones."""
        if task.id in self._parked:
            self.unpark(task)
        elif task.state == "queued":
            self.remove_ready(lambda t: t is task)

    def back_to_waiting(self, task: Task) -> None:
        """A queued task one of whose inputs is no longer in memory waits again."""
        was = task.state
        self.unqueue(task)
        task.state = "waiting"
        task.waiting_on = sum(1 for d in task.deps if d.state != "memory")
        self.events.emit("task.waiting", call=task.call.id, task=task.id, n=1, was=was)
        if task.waiting_on == 0:  # (cannot happen; be safe)
            self.make_ready(task)

    def make_ready(self, task: Task) -> None:
        """A waiting task's inputs are all in memory: queue it."""
        self.push_ready(task)
        self.events.emit("task.queued", call=task.call.id, task=task.id, n=1, was="waiting")

    # ------------------------------------------------------------------ fetching
    def request_fetch(self, task_id: int, waiter: tuple[str, Any]) -> None:
        task = self.graph.get(task_id)
        if task is not None and task.state == "memory" and task.result_frames is not None:
            self.deliver(task_id, waiter, task.result_frames, None)
            return
        if task is None or task.state != "memory" or not task.holders:
            self.fetch_failed(task_id, waiter, task)
            return
        first = task_id not in self._fetches
        self._fetches.setdefault(task_id, []).append(waiter)
        if first:
            self.send_fetch(task)

    def send_fetch(self, task: Task) -> None:
        holder = self.workers.get(next(iter(task.holders)))
        self._fetch_from[task.id] = holder.id
        self.memflow.fetch_sent(task.id, holder.id)
        _transport.send_frames(self.endpoints.router, self.codec.encode(
            "fetch", {"tasks": [task.id]}), identity=holder.identity)

    def fetch_failed(self, task_id: int, waiter: tuple[str, Any], task: Task | None) -> None:
        err = TaskError(f"taskscope: the result of task {task.key if task else task_id!r} is "
                        "no longer held by any worker")
        self.deliver(task_id, waiter, None, err)

    def handle_data(self, w: Any, body: dict[str, Any], payload: list[Any]) -> None:
        pos = 0
        for item in body.get("items", ()):
            frames = payload[pos:pos + item["nf"]]
            pos += item["nf"]
            task_id = item["task"]
            task = self.graph.get(task_id)
            if self._fetch_from.get(task_id) != w.id:
                continue  # an answer nobody waits for (the fetch went elsewhere since)
            del self._fetch_from[task_id]
            waiters = self._fetches.pop(task_id, [])
            if item.get("missing") or task is None:
                self.memflow.fetch_dropped(task_id)
                for waiter in waiters:
                    self.fetch_failed(task_id, waiter, task)
                continue
            frames = tuple([bytes(f) for f in frames])  # keep: zmq frames are reused otherwise
            task.result_frames = frames  # kept while referenced, to serve other dependents
            self.publish_transfer(task, waiters, frames)
            for waiter in waiters:
                self.deliver(task_id, waiter, frames, None)

    def publish_transfer(self, task: Task, waiters: list[tuple[str, Any]], frames: list[Any]
                         ) -> None:
        """A fetched result is here to be relayed to the workers whose parked tasks wait for
        it: a transfer bar on each receiving worker's lane (protocol 1.4)."""
        receivers = [(self._parked[t][1].id, self._parked[t][0].call.id) for kind, t in waiters
                     if kind == "transfer" and t in self._parked]
        records = self.memflow.fetch_done(task.id, sum(_pickle.nbytes(f) for f in frames),
                                          receivers)
        if records:
            self.events.emit("task.stream", records=records)

    def deliver(self, task_id: int, waiter: tuple[str, Any], frames: list[Any] | None,
                error: BaseException | None) -> None:
        kind, target = waiter
        if kind in ("future", "complete"):
            future = target
            value = None
            if error is None:
                try:
                    value = _pickle.loads(frames)
                except Exception as exc:
                    error = exc
            if kind == "complete":  # a future with callbacks completes only with its value
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)
            else:
                future._deliver(value, error)
        elif kind == "transfer":
            parked = self._parked.get(target)
            if parked is None:
                return
            dependent, w, missing = parked
            if error is not None:
                self.unpark(dependent)
                self.fail_task(dependent, error, None)
                return
            missing.discard(task_id)
            if not missing:
                self.unpark(dependent)
                if w.exited:
                    self.push_ready(dependent)
                else:  # the fetched inputs are the driver's copies now: sent with the task
                    self.send_with_inputs(dependent, w)

    # ------------------------------------------------------------------ completion
    def graph_task_done(self, task: Task, w: Any, nbytes: int, kept: bool,
                        frames: list[Any]) -> None:
        """A submitted task's unit came back from worker `w` (successful); `kept`: its
        value stays on `w` too."""
        task.state = "memory"
        task.nbytes = int(nbytes)
        if kept:
            task.holders = with_holder(task.holders, w.id)
            w.managed += task.nbytes
            self.memflow.hold(w.id, task)
        if frames and task.keep:  # the driver's copy serves dependents and the Future
            if len(frames) == 1 and type(frames[0]) is bytes:  # (a small result, inline)
                frames = task.result_frames = (frames[0],)  # (a tuple: Task.frames says why)
            else:
                frames = task.result_frames = tuple([f if isinstance(f, bytes) else bytes(f)
                                                     for f in frames])
        for waiter in self._fetches.pop(task.id, ()):  # asked while it was being recomputed
            self._fetch_from.pop(task.id, None)
            self.request_fetch(task.id, waiter)
        future = task.future
        if future is not None and not future._is_ended():
            if frames:
                try:
                    future.set_result(_pickle.loads(frames))
                except Exception as exc:
                    future.set_exception(exc)
            elif has_done_callbacks(future):
                self.request_fetch(task.id, ("complete", future))
            else:
                future._finish_remote()
        for dep in task.deps:
            self.drop_data_ref(dep)
        for child in task.dependents:
            if child.state == "waiting":
                child.waiting_on -= 1
                if child.waiting_on == 0:
                    self.make_ready(child)
        if task.data_refs <= 0:
            self.release_data(task)

    def fail_graph_task(self, task: Task, exc: BaseException) -> None:
        """End a submitted task with an error; its dependents fail with an upstream error.

        Called by the driver's `fail_task` (which counts and publishes); the cascade to the
        dependents is a loop, not a recursion, so a failure at the head of a 10,000-long chain
        fails the chain without running out of stack.
        """
        if task.state in ("erred", "cancelled", "memory", "released"):
            return
        self.unqueue(task)
        task.state = "erred"
        task.error = exc
        task.frames = ()
        future = task.future
        if future is not None and not future.done():
            future.set_exception(exc)
        for dep in task.deps:
            self.drop_data_ref(dep)
        self.fail_dependents(task)

    def fail_dependents(self, task: Task) -> None:
        """Fail everything waiting on `task`, transitively: a loop, not a recursion, so a
        failure at the head of a 10,000-long chain does not exhaust the stack."""
        self._cascade.append(task)
        if self._cascading:
            return  # the loop below, further up the stack, fails its dependents
        self._cascading = True
        try:
            while self._cascade:
                failed = self._cascade.pop()
                for child in list(failed.dependents):
                    if child.state in ("waiting", "queued"):
                        self.fail_task(child, self.upstream_error(child, failed), None)
        finally:
            self._cascading = False

    def cancel_graph_task(self, task: Task, why: str) -> None:
        """Cancel a task not yet running, and everything that depends on it (a loop, not a
        recursion: long chains cancel too)."""
        todo = [(task, why)]
        while todo:
            task, why = todo.pop()
            if task.state not in ("waiting", "queued"):
                continue
            self.unqueue(task)
            task.frames = ()
            future = task.future
            # _cancel_here, not cancel(): we are the driver, no command needed.
            if future is not None and not future.cancelled() and not future._cancel_here() \
                    and not future.done():
                future.set_exception(TaskCancelledError(f"taskscope: {task.key!r}: {why}"))
            self.end_cancelled(task)  # (sets the state, after publishing the one it leaves)
            for dep in task.deps:
                self.drop_data_ref(dep)
            for child in task.dependents:
                todo.append((child, f"its input {task.key!r} was cancelled"))

    # ------------------------------------------------------------------ releasing
    def release_future(self, task_id: int) -> None:
        """The caller dropped its last reference to a task's Future."""
        task = self.graph.get(task_id)
        if task is None:
            return
        if task.keep and task.record_refs == 1 and task.state in ("waiting", "queued"):
            # Nobody can ever see its result: do not run it (as Dask does). Not for the
            # executor's tasks (keep=False): the stdlib runs work whose Future was dropped.
            self.cancel_graph_task(task, "its Future was released")
        self.drop_data_ref(task)
        self.drop_record_ref(task)

    def drop_data_ref(self, task: Task) -> None:
        task.data_refs -= 1
        if task.data_refs <= 0 and task.state == "memory":
            self.release_data(task)

    def release_data(self, task: Task) -> None:
        """Free a result on every worker holding it (nobody needs it any more)."""
        if task.state != "memory":
            return
        task.state = "released"
        task.result_frames = None
        for wid in task.holders:
            w = self.workers.get(wid)
            if w is not None and not w.exited:
                w.managed -= task.nbytes
                self.memflow.unhold(wid, task)
                w.to_release.append(task.id)
        task.holders = frozenset()
        self.events.emit_plain("task.released", task.call.id, task.id)

    def drop_record_ref(self, task: Task) -> None:
        """(A loop, not a recursion: dropping the end of a 10,000-long chain drops it all.)"""
        todo = [task]
        while todo:
            task = todo.pop()
            task.record_refs -= 1
            if task.record_refs > 0:
                continue
            self.graph.pop(task.id, None)
            if task.state in ("memory", "released", "erred", "cancelled"):
                task.frames = ()  # a task still to run keeps its spec until it has run
            for dep in task.deps:
                dep.dependents.remove(task)
                todo.append(dep)

    def flush_releases(self) -> None:
        """Tell workers which results to drop, one message per worker."""
        for w in self.workers.values():
            if w.to_release and w.ready and not w.exited:
                _transport.send_frames(self.endpoints.router, self.codec.encode(
                    "release", {"tasks": w.to_release}), identity=w.identity)
                w.to_release = []

    # ------------------------------------------------------------------ lost workers
    def results_lost(self, w: Any) -> None:
        """Worker `w` died: results only it held and still needed are recomputed."""
        orphaned = []
        self.memflow.forget(w.id)
        for task in self.graph.values():  # first forget every copy `w` held...
            if w.id in task.holders:
                task.holders = without_holder(task.holders, w.id)
                if not task.holders and task.state == "memory" and task.result_frames is None:
                    orphaned.append(task)
        for dependent_id, (task, pw, _missing) in list(self._parked.items()):
            if pw is w:
                self._parked.pop(dependent_id)
                self.push_ready(task)
        for task in orphaned:  # ...then recompute what is still needed
            if task.state != "memory":
                continue  # recomputed already, as an input of another orphan
            if task.data_refs > 0:
                self.recompute(task)
            else:
                self.release_data(task)
        for task_id, wid in list(self._fetch_from.items()):  # fetches `w` will never answer
            if wid != w.id:
                continue
            del self._fetch_from[task_id]
            task = self.graph.get(task_id)
            if task is not None and task.state == "memory":
                waiters = self._fetches.pop(task_id, [])
                for waiter in waiters:  # another holder, or the driver's copy, serves them
                    self.request_fetch(task_id, waiter)
            # else: being recomputed; graph_task_done serves the waiters in _fetches

    def recompute(self, task: Task) -> None:
        """Run a lost task again from its inputs (recomputing lost inputs first).

        A loop over the lost ancestry, not a recursion: a lost 10,000-long chain is fine.
        Each task leaves the state it was in (memory, or released) with a task.waiting or
        task.queued event carrying `was`; its queued dependents wait again.
        """
        todo, order = [task], []
        while todo:
            t = todo.pop()
            if t.state not in ("memory", "released"):
                continue  # already waiting, queued or running again
            if not t.frames:
                self.lost_for_good(t)
                continue
            t.call.outstanding += 1
            t.call.done -= 1
            order.append((t, t.state))
            t.state = "waiting"
            for dep in t.deps:
                dep.data_refs += 1
                if dep.state == "released" or (dep.state == "memory" and not dep.holders
                                                and dep.result_frames is None):
                    todo.append(dep)
        for t, was in order:
            t.waiting_on = sum(1 for d in t.deps if d.state != "memory")
            ready = t.waiting_on == 0
            self.events.emit("task.queued" if ready else "task.waiting", call=t.call.id,
                             task=t.id, n=1, was=was, retry=True, lost=True)
            if ready:
                self.push_ready(t)
        for t, _was in order:
            for child in t.dependents:
                if child.state == "waiting":
                    child.waiting_on = sum(1 for d in child.deps if d.state != "memory")
                elif child.state == "queued":
                    self.back_to_waiting(child)

    def lost_for_good(self, task: Task) -> None:
        """A needed result was lost and cannot be computed again: whoever waits fails."""
        task.state = "erred"
        task.error = TaskError(f"taskscope: the result of {task.key!r} was lost with its "
                               "worker and cannot be recomputed")
        for waiter in self._fetches.pop(task.id, []):
            self.deliver(task.id, waiter, None, task.error)
        self.fail_dependents(task)
