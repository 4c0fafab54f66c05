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
from typing import Any

from . import _pickle, _transport
from .calls import Task
from .errors import TaskCancelledError, TaskError

__all__ = ["GraphScheduling"]


class GraphScheduling:
    """Driver methods for submitted tasks (see the module docstring)."""

    # provided by Driver: events, workers, endpoints, codec, fail_task, end_cancelled, ...
    events: Any
    workers: dict[int, Any]

    def init_graph(self) -> None:
        self.graph: dict[int, Task] = {}  # task id -> record, while referenced
        self._heap: list[tuple[int, int, Task]] = []  # (-priority, seq, task): ready to place
        self._seq = itertools.count()
        self._fetches: dict[int, list[tuple[str, Any]]] = {}  # task id -> who waits for its data
        self._parked: dict[int, tuple[Task, Any, set[int]]] = {}  # dependent -> (task, worker, missing)

    # ------------------------------------------------------------------ ready heap
    def push_ready(self, task: Task) -> None:
        task.state = "queued"
        heapq.heappush(self._heap, (-task.priority, next(self._seq), task))

    def has_ready(self) -> bool:
        return bool(self._heap)

    def peek_ready(self) -> Task:
        return self._heap[0][2]

    def pop_ready(self) -> Task:
        return heapq.heappop(self._heap)[2]

    def remove_ready(self, pred: Any) -> list[Task]:
        """Take out every ready task for which pred(task) is true."""
        taken = [t for _, _, t in self._heap if pred(t)]
        if taken:
            self._heap = [e for e in self._heap if not pred(e[2])]
            heapq.heapify(self._heap)
        return taken

    def ready_count(self) -> int:
        return len(self._heap)

    # ------------------------------------------------------------------ adding
    def add_graph_task(self, task: Task, dep_ids: list[int]) -> None:
        """A submitted task arrives: link it to its inputs; queue it if they are all ready."""
        self.graph[task.id] = task
        task.data_refs = task.record_refs = 1  # its Future
        task.state = "waiting"
        deps = []
        for dep_id in dep_ids:
            dep = self.graph.get(dep_id)
            if dep is None:  # cannot happen while the caller holds the Future; be safe
                self.fail_graph_task(task, TaskError(
                    f"taskscope: task {task.key!r} depends on task {dep_id}, which was released"))
                return
            deps.append(dep)
        task.deps = deps
        for dep in deps:
            dep.dependents.append(task)
            dep.data_refs += 1
            dep.record_refs += 1
        for dep in deps:
            if dep.state == "erred":
                self.fail_graph_task(task, self.upstream_error(task, dep))
                return
            if dep.state == "cancelled":
                self.cancel_graph_task(task, f"its input {dep.key!r} was cancelled")
                return
        task.waiting_on = sum(1 for d in deps if d.state != "memory")
        if task.waiting_on == 0:
            self.push_ready(task)

    def upstream_error(self, task: Task, dep: Task) -> BaseException:
        cause = dep.error
        err = TaskError(f"taskscope: task {task.key!r} did not run: its input {dep.key!r} "
                        f"failed with {type(cause).__name__}: {cause}")
        err.__cause__ = cause
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

    def inputs_for(self, task: Task, w: Any) -> tuple[list[dict[str, Any]], list[Any], set[int]]:
        """What `w` needs to run `task`: data it can be sent now, and inputs to fetch first."""
        specs, frames, missing = [], [], set()
        for dep in task.deps:
            if w.id in dep.holders or dep.id in (s["task"] for s in specs):
                continue
            if dep.result_frames is not None:
                specs.append({"task": dep.id, "nf": len(dep.result_frames)})
                frames.extend(dep.result_frames)
            else:
                missing.add(dep.id)
        return specs, frames, missing

    def park_for_inputs(self, task: Task, w: Any, missing: set[int]) -> None:
        """Hold `task` for `w` until its missing inputs are fetched from their holders."""
        self._parked[task.id] = (task, w, missing)
        w.reserved += 1  # counts against the worker's capacity while we wait
        for dep_id in missing:
            self.request_fetch(dep_id, ("transfer", task.id))

    # ------------------------------------------------------------------ fetching
    def request_fetch(self, task_id: int, waiter: tuple[str, Any]) -> None:
        task = self.graph.get(task_id)
        if task is None or task.state != "memory" or not task.holders:
            self.fetch_failed(task_id, waiter, task)
            return
        first = task_id not in self._fetches
        self._fetches.setdefault(task_id, []).append(waiter)
        if first:
            holder = self.workers.get(next(iter(task.holders)))
            _transport.send_frames(self.endpoints.router, self.codec.encode(
                "fetch", {"tasks": [task_id]}), identity=holder.identity)

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
            waiters = self._fetches.pop(task_id, [])
            if item.get("missing") or task is None:
                for waiter in waiters:
                    self.fetch_failed(task_id, waiter, task)
                continue
            frames = [bytes(f) for f in frames]  # keep: zmq frames are reused otherwise
            task.result_frames = frames  # kept while referenced, to serve other dependents
            for waiter in waiters:
                self.deliver(task_id, waiter, frames, None)

    def deliver(self, task_id: int, waiter: tuple[str, Any], frames: list[Any] | None,
                error: BaseException | None) -> None:
        kind, target = waiter
        task = self.graph.get(task_id)
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
                self._parked.pop(target)
                w.reserved -= 1
                self.fail_graph_task(dependent, error)
                return
            missing.discard(task_id)
            if not missing:
                self._parked.pop(target)
                w.reserved -= 1
                if w.exited:
                    self.push_ready(dependent)
                else:
                    self.send_tasks(w, [dependent])
        del task

    # ------------------------------------------------------------------ completion
    def graph_task_done(self, task: Task, w: Any, rec: dict[str, Any], frames: list[Any]) -> None:
        """A submitted task's unit came back from worker `w` (successful)."""
        task.state = "memory"
        task.nbytes = int(rec.get("nbytes", 0))
        if rec.get("kept"):
            task.holders.add(w.id)
            w.managed += task.nbytes
        if frames and task.keep:  # the driver's copy serves dependents and the Future
            frames = task.result_frames = [f if isinstance(f, bytes) else bytes(f) for f in frames]
        for waiter in self._fetches.pop(task.id, []):  # asked while it was being recomputed
            if task.result_frames is not None:
                self.deliver(task.id, waiter, task.result_frames, None)
            else:
                self.request_fetch(task.id, waiter)
        future = task.future
        if future is not None and not future.done():
            if frames:
                try:
                    future.set_result(_pickle.loads(frames))
                except Exception as exc:
                    future.set_exception(exc)
            elif future._done_callbacks:
                self.request_fetch(task.id, ("complete", future))
            else:
                future._finish_remote()
        for dep in task.deps:
            self.drop_data_ref(dep)
        for child in task.dependents:
            if child.state == "waiting":
                child.waiting_on -= 1
                if child.waiting_on == 0:
                    self.push_ready(child)
        if task.data_refs <= 0:
            self.release_data(task)

    def fail_graph_task(self, task: Task, exc: BaseException) -> None:
        """End a submitted task with an error; its dependents fail with an upstream error."""
        if task.state in ("erred", "cancelled", "memory"):
            return
        task.state = "erred"
        task.error = exc
        task.frames = []
        future = task.future
        if future is not None and not future.done():
            future.set_exception(exc)
        for dep in task.deps:
            self.drop_data_ref(dep)
        for child in list(task.dependents):
            if child.state in ("waiting", "queued"):
                if child.state == "queued":
                    self.remove_ready(lambda t, c=child: t is c)
                self.fail_task(child, self.upstream_error(child, task), None)

    def cancel_graph_task(self, task: Task, why: str) -> None:
        """Cancel a task not yet running, and everything that depends on it."""
        if task.state not in ("waiting", "queued"):
            return
        if task.state == "queued":
            self.remove_ready(lambda t: t is task)
        task.frames = []
        future = task.future
        if future is not None and not future.cancelled():
            if not future.cancel():
                future.set_exception(TaskCancelledError(f"taskscope: {task.key!r}: {why}"))
        self.end_cancelled(task)  # (sets the state, after publishing the one it leaves)
        for dep in task.deps:
            self.drop_data_ref(dep)
        for child in list(task.dependents):
            self.cancel_graph_task(child, f"its input {task.key!r} was cancelled")

    # ------------------------------------------------------------------ releasing
    def release_future(self, task_id: int) -> None:
        """The caller dropped its last reference to a task's Future."""
        task = self.graph.get(task_id)
        if task is None:
            return
        if task.record_refs == 1 and task.state in ("waiting", "queued"):
            # Nobody can ever see its result: do not run it (as Dask does).
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
                w.to_release.append(task.id)
        task.holders.clear()
        self.events.emit("task.released", call=task.call.id, task=task.id, n=1)

    def drop_record_ref(self, task: Task) -> None:
        task.record_refs -= 1
        if task.record_refs > 0:
            return
        self.graph.pop(task.id, None)
        task.frames = []
        for dep in task.deps:
            dep.dependents.remove(task)
            self.drop_record_ref(dep)

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
        for task in list(self.graph.values()):
            if w.id not in task.holders:
                continue
            task.holders.discard(w.id)
            if task.holders or task.state != "memory":
                continue
            if task.result_frames is not None:
                continue  # the driver has a copy: dependents can be served from it
            if task.data_refs > 0:
                self.recompute(task)
            else:
                task.state = "released"
        for dependent_id, (task, pw, missing) in list(self._parked.items()):
            if pw is w:
                self._parked.pop(dependent_id)
                self.push_ready(task)

    def recompute(self, task: Task) -> None:
        """Run a lost task again from its inputs (recomputing lost inputs first)."""
        if task.state in ("waiting", "queued", "processing"):
            return
        if not task.frames:
            self.fail_graph_task(task, TaskError(
                f"taskscope: the result of {task.key!r} was lost with its worker and cannot be "
                "recomputed"))
            return
        task.state = "waiting"
        task.call.outstanding += 1
        task.call.done -= 1
        for dep in task.deps:
            dep.data_refs += 1
            if dep.state != "memory" or (not dep.holders and dep.result_frames is None):
                self.recompute(dep)
        task.waiting_on = sum(1 for d in task.deps if d.state != "memory")
        self.events.emit("task.queued", call=task.call.id, task=task.id, n=1, retry=True,
                         lost=True)
        if task.waiting_on == 0:
            self.push_ready(task)
