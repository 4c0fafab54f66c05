"""`TaskFuture`: the Future of a submitted task, whose result may still live on a worker.

A task's result stays in the memory of the worker that computed it (the "memory" state) until
someone asks: `result()` fetches it through the driver, once, and keeps it. Small results
travel with the completion message anyway, so most `result()` calls never wait for a fetch.
The stdlib's `wait`, `as_completed` and callbacks work unchanged: the Future is *done* as soon
as the task is.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from concurrent.futures._base import PENDING
from typing import Any

__all__ = ["TaskFuture"]


class _Condition(threading.Condition):
    """The stdlib's Condition without the five bound methods its __init__ stores on each
    instance: here they are methods of the class. A tiny submitted task's Future is 6
    garbage-collected objects instead of 11, and the collector's passes over the many live
    Futures of a burst of submits cost more than making them (measured: 38 µs a task with
    20,000 alive, 12 µs with the collector off). Same semantics: the lock is an RLock."""

    def __init__(self) -> None:  # noqa: super().__init__ is what this avoids
        self._lock = threading.RLock()
        self._waiters: deque[Any] = deque()

    def acquire(self, *args: Any) -> bool:  # type: ignore[override]
        return self._lock.acquire(*args)

    def release(self) -> None:  # type: ignore[override]
        self._lock.release()

    def _release_save(self) -> Any:
        return self._lock._release_save()  # type: ignore[attr-defined]

    def _acquire_restore(self, state: Any) -> None:
        self._lock._acquire_restore(state)  # type: ignore[attr-defined]

    def _is_owned(self) -> bool:
        return self._lock._is_owned()  # type: ignore[attr-defined,no-any-return]


class TaskFuture(Future):
    """A `concurrent.futures.Future` with a task key, remote results and cascading cancel."""

    def __init__(self, owner: Any, task_id: int, key: str) -> None:
        # Future.__init__'s fields (stable since Python 3.2), with the lighter condition.
        self._condition = _Condition()
        self._state = PENDING
        self._result = None
        self._exception = None
        self._waiters: list[Any] = []
        self._done_callbacks: list[Any] = []
        self.owner = owner  # the Pool whose workers hold the result
        self.task_id = task_id
        self.key = key
        self._remote = False  # done, but the value is still on a worker
        self._fetch_asked = False
        self._release_to: Any = None  # the driver to tell when this Future is collected

    def __del__(self) -> None:
        # The caller dropped its last reference: the task's result may be freed on the
        # workers (graph.py). Cheaper than weakref.finalize (a fifth of submit's cost), and
        # no wake-up: releases wait for the driver's next turn.
        driver = self._release_to
        if driver is not None:
            driver._commands.append(("release", 0, self.task_id))
            self.owner._refs.pop(self.task_id, None)

    def __repr__(self) -> str:
        return super().__repr__().replace(" at ", f" {self.key!r} at ", 1)

    # -- called by the driver thread -------------------------------------------------------
    def set_running_or_notify_cancel(self) -> bool:
        """As the stdlib's, but a task placed again finds its Future running (a retry, a
        task whose worker died, or one that waits again for an input lost with a worker), or
        even finished (a result lost with its worker, computed again): both are fine."""
        with self._condition:
            if self._state in ("RUNNING", "FINISHED"):
                return True
        return super().set_running_or_notify_cancel()

    def _finish_remote(self) -> None:
        """The task is done; its value stays on the worker until fetched."""
        with self._condition:
            self._remote = True
        self.set_result(None)

    def _deliver(self, value: Any = None, error: BaseException | None = None) -> None:
        """A fetched value (or why it could not be fetched) arrived."""
        with self._condition:
            if error is not None:
                self._exception = error
            else:
                self._result = value
            self._remote = False
            self._condition.notify_all()

    # -- caller side -------------------------------------------------------------------------
    def _ask_fetch(self) -> None:
        with self._condition:
            if not self._remote or self._fetch_asked:
                return
            self._fetch_asked = True
        self.owner._driver.command("fetch", self.task_id)

    def result(self, timeout: float | None = None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        value = super().result(timeout)
        if not self._remote:
            return value
        self._ask_fetch()
        with self._condition:
            while self._remote:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"taskscope: fetching the result of {self.key!r} timed out")
                self._condition.wait(0.1 if remaining is None else min(remaining, 0.1))
            if self._exception is not None:
                raise self._exception
            return self._result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        exc = super().exception(timeout)
        if exc is None and self._remote:
            try:
                self.result(timeout)
            except TimeoutError:
                raise
            except BaseException as err:  # the fetch failed (its worker died)
                return err
        return exc

    def cancel(self) -> bool:
        cancelled = super().cancel()
        if cancelled:  # its dependents cannot run either
            try:
                self.owner._driver.command("cancel_task", self.task_id)
            except Exception:
                pass  # the pool is closed: nothing depends on anything any more
        return cancelled
