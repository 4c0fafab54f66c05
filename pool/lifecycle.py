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
import warnings
from collections import deque
from typing import Any

import psutil

from . import _transport, running_slot, shm
from .calls import Task
from .errors import PoolBrokenError, RemoteTraceback, WorkerDiedError
from .faults import describe_task
from .results import ENDED
from .worker import FN_CACHE_SIZE, WorkerConfig, worker_main

__all__ = ["WorkerLifecycle", "WorkerRecord"]

MAX_STARTUP_DEATHS = 5  # workers in a row that die before they are ready: the pool is broken
PREFETCH = 2  # messages queued at a worker: one running, one ready, so it never waits on us
STOP_GRACE_S = 3.0  # a worker told to stop gets this long before it is killed


class WorkerRecord:
    """The driver's record of one worker process."""

    __slots__ = ("budget", "deadline", "exited", "fault", "fns_sent", "id", "identity",
                 "inflight", "insights", "launched", "managed", "messages", "pid", "process",
                 "ps", "ready", "reserved", "segments", "sentinel", "slot", "stop_sent", "stopping",
                 "tasks_done", "to_release")

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
        # Calls whose function it holds, oldest first: it keeps FN_CACHE_SIZE (worker.py),
        # dropping the oldest, and so does this mirror (a function it dropped is sent again).
        self.fns_sent: dict[int, None] = {}
        self.tasks_done = 0
        self.budget = budget  # items left before recycling (max_tasks_per_worker)
        self.managed = 0  # bytes of results it holds for the task graph
        self.to_release: list[int] = []  # results it may drop, sent in one message
        self.insights: dict[str, float] = {"startup": 0.0, "init": 0.0, "waiting": 0.0,
                                           "working": 0.0, "exit": 0.0}
        self.ps: psutil.Process | None = None
        self.deadline: float | None = None  # its running task's timeout ends then (faults.py)
        self.fault: Any = None  # a faults.Fault once the pool kills it on purpose
        self.slot: str | None = None  # its running slot (running_slot.py)
        self.segments: deque[list[str]] = deque()  # shm segments of each message in `messages`

    def sent_fn(self, call_id: int) -> None:
        """It was sent the function of `call_id` (and drops its oldest past FN_CACHE_SIZE)."""
        self.fns_sent[call_id] = None
        while len(self.fns_sent) > FN_CACHE_SIZE:
            del self.fns_sent[next(iter(self.fns_sent))]

    def has_room(self) -> bool:
        return (self.ready and not self.stopping and not self.exited and self.fault is None
                and len(self.messages) + self.reserved < PREFETCH
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
                         memory_limit=self.memory_limit, profile=self.profile)
        self.events.emit("pool.status", status="running")
        for _ in range(self.n_workers):
            self.start_worker()

    def start_worker(self) -> None:
        wid = next(self._worker_ids)
        slot = running_slot.create(self.endpoints.dir, wid)
        cfg = WorkerConfig(worker_id=wid, endpoint=self.endpoints.tasks_endpoint, key=self._key,
                           driver_pid=os.getpid(), setup=self.setup, slot=slot,
                           shm_prefix=f"{self.shm_prefix}w{wid}-", profile=self.profile)
        process = self.context.Process(target=worker_main, args=(cfg,),
                                       name=f"taskscope-{self.pool_name}-w{wid}")
        launched = time.monotonic()  # before start(): start-up time includes the fork/spawn
        process.start()
        w = WorkerRecord(wid, process, self.max_tasks_per_worker, launched)
        w.slot = slot
        self.workers[wid] = w
        self.workers_changed()
        self._by_identity[w.identity] = w
        self._by_sentinel[w.sentinel] = w
        self.events.emit("worker.started", worker=wid, pid=process.pid)

    def handle_hello(self, w: WorkerRecord, msg: Any) -> None:
        if msg.kind == "hello":
            w.insights["startup"] = msg.ts - w.launched
        elif msg.kind == "ready":
            w.ready = True
            self._startup_deaths = 0
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
        fault = w.fault
        if fault is not None:
            reason = "killed"  # by the pool, on purpose: memory limit, timeout, interrupt
        elif expected:
            reason = "recycled" if not self.closing else "shutdown"
        else:
            reason = "died"
        extra = {"cause": fault.cause, "message": fault.message} if fault is not None else {}
        self.events.emit("worker.exited", worker=w.id, pid=w.pid, exitcode=code, signal=sig,
                         reason=reason, insights=dict(w.insights), **extra)
        self._by_identity.pop(w.identity, None)
        self._by_sentinel.pop(w.sentinel, None)
        del self.workers[w.id]
        self.workers_changed()
        self.results_lost(w)
        started = self.started_on(w)
        running_slot.remove(w.slot)
        for names in w.segments:  # its mappings died with it: the segments can be reused
            self.shm.release(names)
        w.segments.clear()
        shm.sweep(f"{self.shm_prefix}w{w.id}-")  # results it made but never sent
        lost = list(w.inflight.values())
        w.inflight.clear()
        w.messages.clear()
        for task in lost:
            task.call.processing -= task.n
            task.worker = None
            if fault is not None and fault.cause == "interrupted" and task.id in fault.targets:
                self.end_interrupted(task)  # running or queued there: the caller gave up on it
            elif task.id not in started or (fault is not None and task.id not in fault.targets):
                # Never started (queued behind the running one), or started only after the
                # task the worker was killed for had finished: not its fault, run it again.
                if task.call.stopped and not task.is_submit:
                    self.end_cancelled(task)  # its call was cancelled, failed or interrupted
                else:
                    self.requeue(task, retry=False)
            elif task.retries > 0:
                self.requeue(task, retry=True)
            else:
                self.fail_task(task, self.death_error(w, task, code, sig), w)
        if not w.ready and fault is None and not expected and self.broken is None:
            # Dying before it is ready is no task's doing: replacing it again and again would
            # spin forever (e.g. the main module cannot be imported under spawn/forkserver).
            self._startup_deaths = getattr(self, "_startup_deaths", 0) + 1
            if self._startup_deaths >= MAX_STARTUP_DEATHS:
                how = f"signal {sig}" if sig else f"exit code {code}"
                exc = PoolBrokenError(
                    f"taskscope: {self._startup_deaths} workers in a row died while starting "
                    f"(the last, pid {w.pid}, with {how}); see their output (stderr) for why, "
                    "e.g. a main module the workers cannot import. Fix it and create a new Pool")
                self.broken = exc
                self.status = "broken"
                self.events.emit("pool.status", status="broken", message=str(exc))
                self.fail_everything(exc)
        # Replace it; while shutting down too if work is left (a worker recycled by
        # max_tasks_per_worker after shutdown() was called), or that work would never run.
        if self.broken is None and (not self.closing or self.work_left()):
            self.start_worker()

    def started_on(self, w: WorkerRecord) -> set[int]:
        """The tasks worker `w` may have started when it died: the one its running slot
        names (the others of its messages are run again: done ones lost their results with
        it, the rest never began), or, without a slot, every task of its oldest message.

        The slot may name a task of a later message: the worker finished the oldest one and
        its last answer died with it, or is still on its way (then it is dropped, as the
        worker's identity is gone). That later task is the one it was running."""
        if not w.messages:
            return set()
        running = running_slot.read(w.slot) if w.slot else None
        if running is None:
            return set(w.messages[0])
        if running and any(running in ids for ids in w.messages):
            return {running}
        return set()  # 0: between tasks, none started

    def death_error(self, w: WorkerRecord, task: Task, code: int | None,
                    sig: int | None) -> BaseException:
        if w.fault is not None and w.fault.error is not None:
            return w.fault.error(task, w, code, sig)  # killed on purpose: say why
        how = f"signal {sig}" if sig else f"exit code {code}"
        hint = " (SIGKILL: often the operating system's out-of-memory killer)" if sig == 9 else ""
        what = describe_task(task)
        return WorkerDiedError(
            f"taskscope: worker {w.id} (pid {w.pid}) died with {how}{hint} while running "
            f"{task.call.info['fn']!r} ({what}); the pool replaced the worker. Pass "
            "retries= to submit to re-run such tasks.",
            worker=w.id, pid=w.pid, exitcode=code, signal=sig)

    def requeue(self, task: Task, retry: bool) -> None:
        if not task.is_submit and task.state in ENDED:
            warnings.warn(f"taskscope: internal error: task {task.id} of call {task.call.id} "
                          f"ended ({task.state}) and was to run again; it is not. Please "
                          "report this", RuntimeWarning, stacklevel=2)
            return
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
                rss = w.ps.memory_info().rss
                if rss == 0:
                    continue  # it exited a moment ago (a zombie until reaped): no sample
                samples.append([w.id, w.ps.cpu_percent(None), rss, w.managed])
            except psutil.Error:
                continue
            if self.memory_limit is not None and rss > self.memory_limit and w.fault is None:
                self.kill_for_memory(w, rss)
        if samples:
            held = self.memflow.sample_rows({row[0] for row in samples})  # type: ignore[attr-defined]
            extra = {} if held is None else {"held": held}  # per function (1.4, memflow.py)
            self.events.emit("worker.samples", samples=samples, **extra)

    def maybe_stop_workers(self) -> None:
        if self._stop_deadline is None and not self.work_left():
            self._stop_deadline = time.monotonic() + STOP_GRACE_S
            for w in list(self.workers.values()):
                self.stop_worker(w)

    def stop_worker(self, w: WorkerRecord) -> None:
        w.stopping = True
        w.stop_sent = time.monotonic()
        try:
            sent = _transport.send_frames(self.endpoints.router, self.codec.encode("stop"),
                                          identity=w.identity)
        except Exception:
            sent = False
        if not sent:
            w.process.terminate()  # not connected (yet, or any more): it has nothing to finish

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
