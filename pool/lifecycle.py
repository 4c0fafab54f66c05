"""Worker processes as the driver sees them: start, watch, sample, stop, replace.

A part of the driver (mixed into `Driver`; runs on the driver thread). A worker's death is
seen through its process sentinel, polled with the sockets; the task it was running fails
with a `WorkerDiedError` (or runs again, if it has retries left), the tasks queued behind it
(never started) go back to the queue, results only it held are recomputed if still needed,
and a new worker takes its place.
"""
from __future__ import annotations

import os
import time
from collections import deque
from typing import Any

import psutil

from . import _transport
from .calls import Task
from .errors import PoolBrokenError, RemoteTraceback, WorkerDiedError
from .worker import WorkerConfig, worker_main

__all__ = ["WorkerLifecycle", "WorkerRecord"]

PREFETCH = 2  # tasks queued at a worker: one running, one ready, so it never waits on us
STOP_GRACE_S = 3.0  # a worker told to stop gets this long before it is killed


class WorkerRecord:
    """The driver's record of one worker process."""

    __slots__ = ("budget", "exited", "fns_sent", "id", "identity", "inflight", "insights",
                 "launched", "managed", "messages", "pid", "process", "ps", "ready", "reserved",
                 "sentinel", "stop_sent", "stopping", "tasks_done", "to_release")

    def __init__(self, worker_id: int, process: Any, budget: int | None, launched: float) -> None:
        self.id = worker_id
        self.identity = f"w{worker_id}".encode()
        self.process = process
        self.pid: int | None = process.pid
        self.sentinel: int = process.sentinel
        self.launched = launched
        self.ready = False
        self.stopping = False
        self.stop_sent = 0.0
        self.exited = False
        self.inflight: dict[int, Task] = {}
        # Task ids of each "run" message not yet answered, oldest first: the worker runs them
        # in order and answers each message whole, so only the oldest one can have started.
        self.messages: deque[list[int]] = deque()
        self.reserved = 0  # tasks parked for this worker while their inputs are fetched
        self.fns_sent: set[int] = set()
        self.tasks_done = 0
        self.budget = budget  # items left before recycling (max_tasks_per_worker)
        self.managed = 0  # bytes of results it holds for the task graph
        self.to_release: list[int] = []  # results it may drop, sent in one message
        self.insights: dict[str, float] = {"startup": 0.0, "init": 0.0, "waiting": 0.0,
                                           "working": 0.0, "exit": 0.0}
        self.ps: psutil.Process | None = None

    def has_room(self) -> bool:
        return (self.ready and not self.stopping and not self.exited
                and len(self.inflight) + self.reserved < PREFETCH
                and (self.budget is None or self.budget > 0))

    def summary(self) -> dict[str, Any]:
        return {"worker": self.id, "pid": self.pid, "ready": self.ready, "exited": self.exited,
                "tasks_done": self.tasks_done, "insights": dict(self.insights),
                "inflight": len(self.inflight), "managed": self.managed}


class WorkerLifecycle:
    """Driver methods that start, watch and stop worker processes."""

    # provided by Driver
    events: Any
    workers: dict[int, WorkerRecord]

    def launch_workers(self) -> None:
        """Announce the pool and start its workers: first thing in `run`, or before `start()`
        in the caller's thread (Pool does so for the fork start method)."""
        self._launched = True
        self.events.emit("pool.started", id=self.pool_id, name=self.pool_name,
                         pid=os.getpid(), n_workers=self.n_workers,
                         start_method=self.context.get_start_method(),
                         memory_limit=self.memory_limit)
        self.events.emit("pool.status", status="running")
        for _ in range(self.n_workers):
            self.start_worker()

    def start_worker(self) -> None:
        wid = next(self._worker_ids)
        cfg = WorkerConfig(worker_id=wid, endpoint=self.endpoints.tasks_endpoint, key=self._key,
                           driver_pid=os.getpid(), setup=self.setup)
        process = self.context.Process(target=worker_main, args=(cfg,),
                                       name=f"taskscope-{self.pool_name}-w{wid}")
        launched = time.monotonic()  # before start(): start-up time includes the fork/spawn
        process.start()
        w = WorkerRecord(wid, process, self.max_tasks_per_worker, launched)
        self.workers[wid] = w
        self._by_identity[w.identity] = w
        self._by_sentinel[w.sentinel] = w
        self.events.emit("worker.started", worker=wid, pid=process.pid)

    def handle_hello(self, w: WorkerRecord, msg: Any) -> None:
        if msg.kind == "hello":
            w.insights["startup"] = msg.ts - w.launched
        elif msg.kind == "ready":
            w.ready = True
            w.insights["init"] = float(msg.body.get("init", 0.0))
            self.events.emit("worker.ready", worker=w.id, pid=w.pid,
                             startup=w.insights["startup"], init=w.insights["init"])
        elif msg.kind == "init_failed":
            self.handle_init_failure(w, msg.body)
        elif msg.kind == "bye":
            w.insights.update(msg.body.get("insights", {}))

    def handle_init_failure(self, w: WorkerRecord, body: dict[str, Any]) -> None:
        exc = PoolBrokenError(f"taskscope: the initializer failed in worker {w.id} (pid {w.pid}) "
                              f"with {body.get('exc_type')}: {body.get('message')}; fix the "
                              "initializer and create a new Pool")
        exc.__cause__ = RemoteTraceback(str(body.get("traceback", "")))
        self.broken = exc
        self.status = "broken"
        self.events.emit("pool.status", status="broken", message=str(exc))
        self.fail_everything(exc)

    def handle_worker_exit(self, w: WorkerRecord) -> None:
        w.process.join(0.1)
        code = w.process.exitcode
        w.exited = True
        w.insights["exit"] = time.monotonic() - w.stop_sent if w.stopping else 0.0
        sig = -code if code is not None and code < 0 else None
        expected = w.stopping
        reason = "recycled" if expected and not self.closing else ("shutdown" if expected else "died")
        self.events.emit("worker.exited", worker=w.id, pid=w.pid, exitcode=code, signal=sig,
                         reason=reason, insights=dict(w.insights))
        self._by_identity.pop(w.identity, None)
        self._by_sentinel.pop(w.sentinel, None)
        del self.workers[w.id]
        self.results_lost(w)
        started = set(w.messages[0]) if w.messages else set()
        lost = list(w.inflight.values())
        w.inflight.clear()
        w.messages.clear()
        for task in lost:
            task.call.processing -= task.n
            task.worker = None
            if task.id not in started:
                self.requeue(task, retry=False)  # queued behind the running one: never started
            elif task.retries > 0:
                self.requeue(task, retry=True)
            else:
                self.fail_task(task, self.death_error(w, task, code, sig), w)
        # Replace it; while shutting down too if work is left (a worker recycled by
        # max_tasks_per_worker after shutdown() was called), or that work would never run.
        if self.broken is None and (not self.closing or self.work_left()):
            self.start_worker()

    def death_error(self, w: WorkerRecord, task: Task, code: int | None,
                    sig: int | None) -> WorkerDiedError:
        how = f"signal {sig}" if sig else f"exit code {code}"
        hint = " (SIGKILL: often the operating system's out-of-memory killer)" if sig == 9 else ""
        what = f"task {task.key!r}" if task.is_submit else f"task {task.id}, {task.n} item(s)"
        return WorkerDiedError(
            f"taskscope: worker {w.id} (pid {w.pid}) died with {how}{hint} while running "
            f"{task.call.info['fn']!r} ({what}); the pool replaced the worker. Pass "
            "retries= to submit to re-run such tasks.",
            worker=w.id, pid=w.pid, exitcode=code, signal=sig)

    def requeue(self, task: Task, retry: bool) -> None:
        if retry:
            task.retries -= 1
        self.push_ready(task)
        self.events.emit("task.queued", call=task.call.id, task=task.id, n=task.n, retry=True,
                         was="processing")

    def sample_workers(self) -> None:
        samples = []
        for w in self.workers.values():
            if w.exited or w.pid is None:
                continue
            try:
                if w.ps is None:
                    w.ps = psutil.Process(w.pid)
                    w.ps.cpu_percent(None)  # the first reading primes the counter
                samples.append([w.id, w.ps.cpu_percent(None), w.ps.memory_info().rss, w.managed])
            except psutil.Error:
                continue
        if samples:
            self.events.emit("worker.samples", samples=samples)

    def maybe_stop_workers(self) -> None:
        if self._stop_deadline is None and not self.work_left():
            self._stop_deadline = time.monotonic() + STOP_GRACE_S
            for w in list(self.workers.values()):
                self.stop_worker(w)

    def stop_worker(self, w: WorkerRecord) -> None:
        w.stopping = True
        w.stop_sent = time.monotonic()
        try:
            _transport.send_frames(self.endpoints.router, self.codec.encode("stop"),
                                   identity=w.identity)
        except Exception:
            w.process.terminate()  # not connected yet: it has nothing to finish

    def finished_stopping(self) -> bool:
        if self.broken is not None and not self.closing:
            return False
        if self._stop_deadline is None:
            return False
        if not self.workers:
            return True
        if time.monotonic() > self._stop_deadline:
            for w in list(self.workers.values()):
                w.process.kill()
                w.process.join(1)
                self.handle_worker_exit(w)
            return True
        return False
