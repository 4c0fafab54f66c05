"""Stopping work on purpose: memory limits, task timeouts and interrupts.

A part of the driver (mixed into `Driver` like graph.py and lifecycle.py; runs on the driver
thread only). A running task cannot be interrupted inside a worker, so each of these kills the
worker running it and lets lifecycle.py replace it::

    memory_limit   RSS sampled every MEMORY_CHECK_S  -> over the limit -> kill, WorkerMemoryError
    timeout=       deadline from when the task's message became the worker's running one
                                                     -> past it        -> kill, TaskTimeoutError
    interrupt      KeyboardInterrupt in map/gather/result() -> kill workers running the call's
                   (or the futures') tasks; those tasks end "cancelled", the pool "interrupted"

A killed worker carries a `Fault` naming its cause and its *target* tasks: only those end with
the fault's error (or are cancelled, for an interrupt); anything else it had (a task that
started after a target finished, tasks queued behind) runs again elsewhere, unharmed.
"""
from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import Any

import psutil

from .calls import Task
from .errors import TaskCancelledError, TaskTimeoutError, WorkerMemoryError

__all__ = ["Fault", "FaultHandling", "describe_task", "format_bytes", "parse_memory_limit"]

MEMORY_CHECK_S = 0.1  # with a memory_limit, each worker's RSS is read ten times a second

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}


def parse_memory_limit(value: Any) -> int | None:
    """Bytes from an int, or from text such as ``"500MB"``, ``"2 GiB"``, ``"1.5g"``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("taskscope: memory_limit must be bytes (an int) or text like '500MB'")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", value)
        if m is None or m.group(2).lower() not in _UNITS:
            raise ValueError(f"taskscope: memory_limit {value!r} is not a size; write e.g. "
                             "'500MB', '2GiB' or a number of bytes")
        number = float(m.group(1)) * _UNITS[m.group(2).lower()]
    else:
        raise TypeError(f"taskscope: memory_limit must be bytes (an int) or text like '500MB', "
                        f"not {type(value).__name__}")
    if not math.isfinite(number) or number < 1:
        raise ValueError(f"taskscope: memory_limit must be a positive size, not {value!r}")
    return int(number)


def format_bytes(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def check_timeout(timeout: Any) -> float | None:
    """A task timeout as given to submit/map: None or a positive number of seconds."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"taskscope: timeout must be a positive number of seconds or None, "
                         f"not {timeout!r}")
    return float(timeout)


class Fault:
    """Why the pool killed a worker, and which of its tasks that was about."""

    __slots__ = ("cause", "error", "message", "targets")

    def __init__(self, cause: str, targets: set[int], message: str,
                 error: Callable[[Task, Any, int | None, int | None], BaseException] | None) -> None:
        self.cause = cause  # "memory_limit" | "timeout" | "interrupted"
        self.targets = targets  # ids of the tasks it was killed for
        self.message = message  # shown with worker.exited
        self.error = error  # builds a target task's error; None: targets are cancelled


def describe_task(task: Task) -> str:
    """How errors name a task: its key (submit), or its items and call (map)."""
    if task.is_submit:
        return f"task {task.key!r}"
    items = (f"item {task.index0}" if task.n == 1
             else f"items {task.index0}-{task.index0 + task.n - 1}")
    return f"task {task.id}: {items} of call {task.call.id}"


class FaultHandling:
    """Driver methods that kill workers on purpose (see the module docstring)."""

    # provided by Driver
    events: Any
    workers: dict[int, Any]
    memory_limit: int | None
    graph: dict[int, Task]

    def init_faults(self) -> None:
        self._timeouts_used = False  # no deadline bookkeeping until a task has a timeout
        self._next_memory_check = 0.0

    # ------------------------------------------------------------------ scheduling
    def next_fault_check(self) -> float:
        """When the driver must next look at deadlines or memory (monotonic time)."""
        due = math.inf
        if self.memory_limit is not None:
            due = self._next_memory_check
        if self._timeouts_used:
            for w in self.workers.values():
                if w.deadline is not None and w.fault is None:
                    due = min(due, w.deadline)
        return due

    def check_faults(self, now: float) -> None:
        if self.memory_limit is not None and now >= self._next_memory_check:
            self._next_memory_check = now + MEMORY_CHECK_S
            self.check_memory()
        if self._timeouts_used:
            for w in list(self.workers.values()):
                if w.deadline is not None and now >= w.deadline and w.fault is None:
                    self.kill_for_timeout(w)

    def uses_timeout(self, timeout: float | None) -> None:
        if timeout is not None:
            self._timeouts_used = True

    def note_running(self, w: Any) -> None:
        """The oldest message at `w` (the one it runs) changed: start its tasks' deadline."""
        w.deadline = None
        if not self._timeouts_used or not w.messages:
            return
        limits = [w.inflight[t].timeout for t in w.messages[0]
                  if t in w.inflight and w.inflight[t].timeout is not None]
        if limits:  # tasks with a timeout travel alone (place() does not batch them)
            w.deadline = time.monotonic() + min(limits)

    def running_tasks(self, w: Any) -> list[Task]:
        """The tasks of the message `w` is running now (the oldest unanswered one)."""
        if not w.messages:
            return []
        return [w.inflight[t] for t in w.messages[0] if t in w.inflight]

    # ------------------------------------------------------------------ killing
    def kill_worker(self, w: Any, fault: Fault) -> None:
        """Kill `w` for `fault`; handle_worker_exit ends its tasks once the process is gone."""
        if w.fault is not None or w.exited:
            return
        w.fault = fault
        w.deadline = None
        try:
            w.process.kill()
        except Exception:  # already gone: its sentinel fires anyway
            pass

    def kill_for_timeout(self, w: Any) -> None:
        running = [t for t in self.running_tasks(w) if t.timeout is not None]
        if not running:
            w.deadline = None
            return
        task = running[0]
        limit = min(t.timeout for t in running)
        message = (f"taskscope: {describe_task(task)} of {task.call.info['fn']!r} ran longer than its "
                   f"timeout of {limit:g} s in worker {w.id} (pid {w.pid}); the pool killed "
                   "the worker to stop it and replaced it")

        def error(t: Task, w: Any, code: int | None, sig: int | None) -> BaseException:
            return TaskTimeoutError(
                f"taskscope: {describe_task(t)} of {t.call.info['fn']!r} ran longer than its timeout "
                f"of {t.timeout:g} s in worker {w.id} (pid {w.pid}); the pool killed the "
                "worker to stop it and replaced it", timeout=t.timeout, worker=w.id, pid=w.pid)

        self.kill_worker(w, Fault("timeout", {t.id for t in running}, message, error))

    def check_memory(self) -> None:
        limit = self.memory_limit
        for w in list(self.workers.values()):
            if w.exited or w.fault is not None or w.pid is None:
                continue
            try:
                if w.ps is None:
                    w.ps = psutil.Process(w.pid)
                    w.ps.cpu_percent(None)  # primes the counter sample_workers reads
                rss = w.ps.memory_info().rss
            except psutil.Error:
                continue
            if rss > limit:
                self.kill_for_memory(w, rss)

    def kill_for_memory(self, w: Any, rss: int) -> None:
        limit = self.memory_limit
        running = self.running_tasks(w)
        doing = (f"while running {running[0].call.info['fn']!r}" if running
                 else "while idle")
        message = (f"taskscope: worker {w.id} (pid {w.pid}) used {format_bytes(rss)} of memory, "
                   f"over the pool's memory_limit of {format_bytes(limit)}, {doing}; the pool "
                   "restarted the worker")

        def error(t: Task, w: Any, code: int | None, sig: int | None) -> BaseException:
            return WorkerMemoryError(
                f"taskscope: worker {w.id} (pid {w.pid}) used {format_bytes(rss)} ({rss} bytes) "
                f"of memory, over the pool's memory_limit of {format_bytes(limit)} ({limit} "
                f"bytes), while running {t.call.info['fn']!r} ({describe_task(t)}); the pool restarted "
                "the worker. Make the task use less memory, or raise memory_limit= (pass "
                "retries= to submit to run such tasks again).",
                worker=w.id, pid=w.pid, exitcode=code, signal=sig, limit=limit, rss=rss)

        self.kill_worker(w, Fault("memory_limit", {t.id for t in running}, message, error))

    # ------------------------------------------------------------------ interrupts
    def interrupt_running(self, pred: Callable[[Task], bool], what: str) -> int:
        """Kill the workers running tasks for which pred(task) holds; returns how many."""
        killed = 0
        for w in list(self.workers.values()):
            if w.exited:
                continue
            if w.fault is not None:  # being killed already: interrupted work on it ends too
                if w.fault.cause == "interrupted":
                    w.fault.targets.update(t.id for t in w.inflight.values() if pred(t))
                continue
            if not any(pred(t) for t in self.running_tasks(w)):
                continue
            # Its queued tasks of the interrupted work end too; the others run elsewhere.
            targets = {t.id for t in w.inflight.values() if pred(t)}
            if targets:
                self.kill_worker(w, Fault(
                    "interrupted", targets,
                    f"taskscope: worker {w.id} (pid {w.pid}) was stopped: {what} was "
                    "interrupted", None))
                killed += 1
        return killed

    def interrupt_tasks(self, task_ids: list[int]) -> None:
        """The caller was interrupted while waiting for these submitted tasks (gather,
        result()): cancel those not started, stop those running."""
        wanted = set()
        for task_id in task_ids:
            task = self.graph.get(task_id)
            if task is None:
                continue
            if task.state in ("waiting", "queued"):
                self.cancel_graph_task(task, "the caller was interrupted")
            elif task.state == "processing":
                wanted.add(task_id)
        if wanted:
            self.interrupt_running(lambda t: t.id in wanted, "the call waiting for its result")
        self.mark_interrupted()

    def mark_interrupted(self) -> None:
        if self.status != "interrupted" and not self.closing:
            self.status = "interrupted"
            self.events.emit("pool.status", status="interrupted")

    def end_interrupted(self, task: Task) -> None:
        """A task stopped by an interrupt (its worker was killed): cancelled, not erred."""
        task.frames = ()
        if not task.is_submit:
            self.end_cancelled(task)
            return
        future = task.future
        if future is not None and not future.done():
            future.set_exception(TaskCancelledError(
                f"taskscope: task {task.key!r} was interrupted while running; its worker was "
                "stopped"))
        self.end_cancelled(task)
        for dep in task.deps:
            self.drop_data_ref(dep)
        for child in list(task.dependents):
            self.cancel_graph_task(child, f"its input {task.key!r} was interrupted")
