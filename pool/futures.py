"""`TaskFuture`: the Future of a submitted task, whose result may still live on a worker.

A task's result stays in the memory of the worker that computed it (the "memory" state) until
someone asks: `result()` fetches it through the driver, once, and keeps it. Small results
travel with the completion message anyway, so most `result()` calls never wait for a fetch.
The stdlib's `wait`, `as_completed` and callbacks work unchanged: the Future is *done* as soon
as the task is.
"""
from __future__ import annotations

import _thread
import threading
import time
from collections import deque
from concurrent.futures import Future, InvalidStateError
from concurrent.futures._base import CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED, PENDING, RUNNING
from typing import Any

__all__ = ["TaskFuture", "has_done_callbacks"]

_ENDED = (CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED)


class _Condition(_thread.RLock):
    """A Condition that is its own RLock: the stdlib's `wait`/`wait_for` on an RLock
    subclass, one garbage-collected object where `threading.Condition` makes eleven (its
    lock, its deque of waiters and five bound methods its __init__ stores), and `with` on it
    is the lock's own C code instead of two Python calls each way.

    Why it matters: the garbage collector's passes over the many live Futures of a burst
    of submits cost more than making them (38 µs a task with 20,000 alive, 12 µs with it
    off). The deque of waiters is made by the first `wait()` (under the lock, as every use
    of it is): most Futures are never waited on while pending. Same semantics as
    ``threading.Condition(threading.RLock())``."""

    __slots__ = ("_waiter_deque",)

    def __init__(self) -> None:
        self._waiter_deque: deque[Any] | None = None

    @property
    def _waiters(self) -> deque[Any]:
        if self._waiter_deque is None:
            self._waiter_deque = deque()
        return self._waiter_deque

    # The stdlib's, reading _waiters, _release_save, _acquire_restore and _is_owned (all
    # RLock's own methods here but _waiters).
    wait = threading.Condition.wait
    wait_for = threading.Condition.wait_for

    def notify(self, n: int = 1) -> None:
        if self._waiter_deque is None:  # nobody ever waited: nobody to wake
            if not self._is_owned():
                raise RuntimeError("cannot notify on un-acquired lock")
            return
        threading.Condition.notify(self, n)  # type: ignore[arg-type]

    def notify_all(self) -> None:
        waiters = self._waiter_deque
        self.notify(len(waiters) if waiters is not None else 0)


class TaskFuture(Future):
    """A `concurrent.futures.Future` with a task key, remote results and cascading cancel."""

    def __init__(self, owner: Any, task_id: int, key: str) -> None:
        # Future.__init__'s fields (stable since Python 3.2), with the lighter condition.
        self._condition = _Condition()
        self._state = PENDING
        self._result = None
        self._exception = None
        # The stdlib's two lists (waiters of `wait`/`as_completed`, done callbacks), made on
        # first use (always under the condition's lock): 2 of a live submitted task's 9
        # garbage-collected objects, and the garbage collector's passes over a burst's Futures
        # cost more than the rest of the Future (see _Condition).
        self._waiter_list: list[Any] | None = None
        self._callback_list: list[Any] | None = None
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

    # -- the stdlib's lists, made on first use ------------------------------------------------
    @property
    def _waiters(self) -> list[Any]:  # type: ignore[override]
        if self._waiter_list is None:
            self._waiter_list = []
        return self._waiter_list

    @property
    def _done_callbacks(self) -> list[Any]:  # type: ignore[override]
        if self._callback_list is None:
            self._callback_list = []
        return self._callback_list

    def _invoke_callbacks(self) -> None:
        if self._callback_list:
            super()._invoke_callbacks()

    # set_result/set_exception as the stdlib's, but without making the lists to walk them.
    def set_result(self, result: Any) -> None:
        self._finish(result, None, failed=False)

    def set_exception(self, exception: BaseException | None) -> None:
        self._finish(None, exception, failed=True)

    def _finish(self, result: Any, exception: BaseException | None, failed: bool) -> None:
        with self._condition:
            if self._state in _ENDED:
                raise InvalidStateError(f"{self._state}: {self!r}")
            if failed:
                self._exception = exception
            else:
                self._result = result
            self._state = FINISHED
            for waiter in self._waiter_list or ():
                (waiter.add_exception if failed else waiter.add_result)(self)
            self._condition.notify_all()
        self._invoke_callbacks()

    # -- called by the driver thread -------------------------------------------------------
    def set_running_or_notify_cancel(self) -> bool:
        """As the stdlib's, but a task placed again finds its Future running (a retry, a
        task whose worker died, or one that waits again for an input lost with a worker), or
        even finished (a result lost with its worker, computed again): both are fine."""
        with self._condition:
            if self._state in (RUNNING, FINISHED):
                return True
            if self._state == PENDING:  # (the common case, in the one lock)
                self._state = RUNNING
                return True
        return super().set_running_or_notify_cancel()  # cancelled: its waiters are told

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


def has_done_callbacks(future: Future) -> bool:
    """Whether `future` has done callbacks (without making a TaskFuture's list)."""
    if isinstance(future, TaskFuture):
        return bool(future._callback_list)
    return bool(future._done_callbacks)  # type: ignore[attr-defined]
