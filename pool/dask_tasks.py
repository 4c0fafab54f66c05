"""Records of a `Pool(cluster=...)`: its tasks, the Dask workers as taskscope workers, and
the Future its `submit` returns.

Dask names workers by address; the event stream numbers them (0, 1, ...) in the order they
are seen, so the panes draw a Dask worker as they draw a local worker process. A worker that
leaves the cluster (it died, or the cluster was scaled down) is shown as exited; the worker
Dask's nanny starts in its place has a new address and so a new number.
"""
from __future__ import annotations

import itertools
import time
from typing import Any

from .errors import TaskError
from .futures import TaskFuture

__all__ = ["DaskTask", "DaskTaskFuture", "DaskWorker", "DaskWorkers", "upstream_error"]


class DaskTask:
    """One Dask task of the pool: a chunk of a map call, or one submitted call."""

    __slots__ = ("arg", "call", "dep_ids", "dependents", "fetches", "future", "id", "index0", "items",
                 "key", "n", "state", "tfuture", "waiting_on")

    def __init__(self, task_id: int, call: Any, index0: int, items: list[Any]) -> None:
        self.id = task_id
        self.call = call
        self.index0 = index0
        self.items = items  # kept while it runs: the inputs of failed items, for rerun()
        self.n = max(1, len(items))
        self.future: Any = None  # the Dask future, held until the task ended
        self.key = ""
        self.arg = ""  # a bounded repr of a submitted call's arguments
        self.dep_ids: list[int] = []
        self.dependents: list[DaskTask] = []
        self.waiting_on = 0
        self.fetches = 0  # fetches of its result that failed (its worker died meanwhile)
        self.state = "queued"
        self.tfuture: Any = lambda: None  # weak reference to the caller's DaskTaskFuture


class DaskTaskFuture(TaskFuture):
    """The Future of `Pool(cluster=...).submit`: done when the Dask task is; `result()`
    fetches the value from the Dask worker that holds it (once)."""

    def __init__(self, owner: Any, task_id: int, key: str, dask_future: Any) -> None:
        super().__init__(owner, task_id, key)
        self.dask_future = dask_future  # keeps the result on the Dask workers while we live

    def _ask_fetch(self) -> None:  # the fetch happens in result(), in the caller's thread
        pass

    def result(self, timeout: float | None = None) -> Any:
        try:
            with self._condition:
                self._wait_ended(timeout)
                if not self._remote:
                    return self._value()
            fetched = self.dask_future.result(timeout)
        except KeyboardInterrupt:
            self.owner._interrupted([self])
            raise
        with self._condition:
            self._result, self._remote = fetched, False
        return fetched

    def cancel(self) -> bool:
        cancelled = self._cancel_here()
        if cancelled:
            try:
                self.owner._driver.command("cancel_tasks", [self.task_id], "cancelled by its Future")
            except Exception:
                pass  # the pool is closed
        return cancelled


def upstream_error(task: DaskTask, root_id: int, root_key: str,
                   cause: BaseException) -> BaseException:
    """The error of a submitted task that Dask did not run because an input failed (as the
    local pool's: it names the task the failure started at; __cause__ is that exception)."""
    if root_id in task.dep_ids:
        what = f"its input {root_key!r} failed"
    else:
        what = f"an input further up, {root_key!r}, failed"
    err = TaskError(f"taskscope: task {task.key!r} did not run: {what} with "
                    f"{type(cause).__name__}: {str(cause)[:500]}")
    err.__cause__ = cause
    return err


class DaskWorker:
    """A Dask worker as the events describe it."""

    __slots__ = (
        "address",
        "cpu",
        "first_seen",
        "id",
        "managed",
        "memory",
        "memory_limit",
        "nthreads",
        "pid",
        "status",
        "tasks_done",
        "working",
    )

    def __init__(self, wid: int, address: str, nthreads: int, memory_limit: int | None) -> None:
        self.id = wid
        self.address = address
        self.nthreads = max(1, nthreads)
        self.memory_limit = memory_limit or None
        self.pid: int | None = None
        self.status = "running"
        self.tasks_done = 0
        self.working = 0.0
        self.first_seen = time.monotonic()
        self.cpu = 0.0
        self.memory = 0
        self.managed = 0

    def insights(self) -> dict[str, float]:
        # Idle thread-seconds since it joined: the MPIRE-style "waiting" of a worker process.
        alive = (time.monotonic() - self.first_seen) * self.nthreads
        return {"working": self.working, "waiting": max(0.0, alive - self.working)}

    def finished(self, start: float, end: float, n: int) -> dict[str, float]:
        self.working += max(0.0, end - start)
        self.tasks_done += n
        return self.insights()

    def summary(self) -> dict[str, Any]:
        return {"worker": self.id, "pid": self.pid, "ready": True,
                "exited": self.status == "gone", "tasks_done": self.tasks_done,
                "insights": {"startup": 0.0, "init": 0.0, "exit": 0.0, **self.insights()},
                "inflight": 0, "managed": self.managed, "address": self.address,
                "nthreads": self.nthreads, "memory_limit": self.memory_limit}


class DaskWorkers:
    """The cluster's workers, kept in step with ``client.scheduler_info()``."""

    def __init__(self, events: Any) -> None:
        self.events = events
        self.by_address: dict[str, DaskWorker] = {}
        self._ids = itertools.count()
        self.pids_learned = False  # a worker's pid became known: a snapshot tells the views

    @property
    def live(self) -> list[DaskWorker]:
        return [w for w in self.by_address.values() if w.status != "gone"]

    @property
    def count(self) -> int:
        return len(self.live)

    @property
    def threads(self) -> int:
        return sum(w.nthreads for w in self.live)

    @property
    def memory_limit(self) -> int | None:
        limits = [w.memory_limit for w in self.live if w.memory_limit]
        return min(limits) if limits else None

    def _add(self, address: str, nthreads: int, memory_limit: int | None) -> DaskWorker:
        w = DaskWorker(next(self._ids), address, nthreads, memory_limit)
        self.by_address[address] = w
        self.events.emit("worker.started", worker=w.id, pid=None, address=address,
                         nthreads=w.nthreads)
        self.events.emit("worker.ready", worker=w.id, pid=None, startup=0.0, init=0.0,
                         address=address)
        return w

    def update(self, infos: dict[str, Any], closing: bool = False) -> None:
        """Workers joined and left since the last call; their CPU and memory samples."""
        for address, info in infos.items():
            w = self.by_address.get(address)
            if w is None or w.status == "gone":
                w = self._add(address, int(info.get("nthreads") or 1), info.get("memory_limit"))
            metrics = info.get("metrics") or {}
            w.cpu = float(metrics.get("cpu") or 0.0)
            w.memory = int(metrics.get("memory") or 0)
            w.managed = int(metrics.get("managed_bytes") or 0)
            w.status = str(info.get("status", "running"))
        for address, w in list(self.by_address.items()):
            if address in infos or w.status == "gone":
                continue
            # Gone from the scheduler: it died (or the cluster scaled down or closed).
            reason = "shutdown" if closing or "clos" in w.status else "died"
            w.status = "gone"
            self.events.emit("worker.exited", worker=w.id, pid=w.pid, exitcode=None,
                             signal=None, reason=reason, insights=w.insights(), address=address)
        gone = [a for a, w in self.by_address.items() if w.status == "gone"]
        for address in gone[:max(0, len(gone) - 100)]:  # keep the records bounded
            del self.by_address[address]
        samples = [[w.id, w.cpu, w.memory, w.managed] for w in self.live]
        if samples:
            self.events.emit("worker.samples", samples=samples)

    def seen(self, address: str, pid: Any) -> DaskWorker | None:
        """The worker that ran a task (added if it joined since the last sample)."""
        if not address:
            return None
        w = self.by_address.get(address)
        if w is None:
            w = self._add(address, 1, None)
        if w.pid is None and isinstance(pid, int):
            w.pid = pid
            self.pids_learned = True
        return w

    def summaries(self) -> list[dict[str, Any]]:
        return [w.summary() for w in self.by_address.values()]

