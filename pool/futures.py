"""`TaskFuture`: the Future of a submitted task, whose result may still live on a worker.

A task's result stays in the memory of the worker that computed it (the "memory" state) until
someone asks: `result()` fetches it through the driver, once, and keeps it. Small results
travel with the completion message anyway, so most `result()` calls never wait for a fetch.
The stdlib's `wait`, `as_completed` and callbacks work unchanged: the Future is *done* as soon
as the task is.

Why it is built as it is: the garbage collector's passes over the many live Futures of a
burst of submits cost more than making them (a fifth of a submit's time with 20,000 alive).
So a Future is one garbage-collected object and nothing else while it waits: its lock is
the pool's (one RLock shared by all its Futures), the stdlib's two lists are made on first
use, and a thread blocked in `result()` brings its own lock, as `threading.Condition`'s
waiters do, in a list made only then.
"""
from __future__ import annotations

import _thread
import time
from concurrent.futures import CancelledError, Future, InvalidStateError
from concurrent.futures._base import CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED, PENDING, RUNNING
from typing import Any

__all__ = ["TaskFuture", "has_done_callbacks"]

_ENDED = (CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED)
_CANCELLED = (CANCELLED, CANCELLED_AND_NOTIFIED)


class TaskFuture(Future):
    """A `concurrent.futures.Future` with a task key, remote results and cascading cancel.

    ``_condition`` is the owner's shared RLock: the stdlib's methods use it only with `with`
    (and `wait`/`as_completed` take it once per Future, which a reentrant lock allows); the
    ones that would call ``wait``/``notify_all`` on it are overridden here.
    """

    # Fields most Futures never change, read through the class until one is set.
    _result: Any = None
    _exception: BaseException | None = None
    _waiter_list: list[Any] | None = None  # the stdlib's waiters of `wait`/`as_completed`
    _callback_list: list[Any] | None = None  # the stdlib's done callbacks
    _blocked: list[Any] | None = None  # locks of threads waiting in result()/exception()
    _remote = False  # done, but the value is still on a worker
    _fetch_asked = False
    _release_to: Any = None  # the driver to tell when this Future is collected
    _key = ""

    def __init__(self, owner: Any, task_id: int, key: str = "", fn_name: str = "") -> None:
        self._condition = owner._future_lock
        self._state = PENDING
        self.owner = owner  # the Pool whose workers hold the result
        self.task_id = task_id
        self._fn_name = fn_name
        if key:
            self._key = key

    @property
    def key(self) -> str:
        """The task's name: the caller's, or ``"<function>-<task id>"`` (made when read)."""
        return self._key or f"{self._fn_name}-{self.task_id}"

    @key.setter
    def key(self, value: str) -> None:
        self._key = value

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

    # -- waiting on the shared lock (threading.Condition's protocol, per Future) -----------------
    def _wait(self, timeout: float | None) -> None:
        """Wait until `_notify` or `timeout`; called holding ``_condition``, as Condition.wait."""
        waiter = _thread.allocate_lock()
        waiter.acquire()
        if self._blocked is None:
            self._blocked = []
        self._blocked.append(waiter)
        saved = self._condition._release_save()  # (all of a reentrant hold, as Condition)
        woken = False
        try:
            woken = waiter.acquire(True, -1 if timeout is None else max(timeout, 0.0))
        finally:
            self._condition._acquire_restore(saved)
            if not woken:  # timed out or interrupted: nobody will release this one
                try:
                    self._blocked.remove(waiter)
                except (ValueError, AttributeError):
                    pass

    def _notify(self) -> None:
        """Wake every thread in `_wait` (called holding ``_condition``)."""
        blocked = self._blocked
        if blocked:
            self._blocked = None
            for waiter in blocked:
                waiter.release()

    def _wait_ended(self, timeout: float | None) -> None:
        """Return once the Future is finished (holding ``_condition``); raise CancelledError
        or TimeoutError as the stdlib's result() does."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = self._state
            if state == FINISHED:
                return
            if state in _CANCELLED:
                raise CancelledError()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError()
            self._wait(remaining)

    def _value(self) -> Any:
        """The result, or its exception raised (holding ``_condition``, once finished)."""
        if self._exception is not None:
            try:
                raise self._exception
            finally:
                self = None  # (the traceback's frame must not keep the Future alive)
        return self._result

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
            self._notify()
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
            self._notify()

    def _cancel_here(self) -> bool:
        """The stdlib's cancel(), without telling the driver (the driver's own calls)."""
        with self._condition:
            if self._state in (RUNNING, FINISHED):
                return False
            if self._state in _CANCELLED:
                return True
            self._state = CANCELLED
            self._notify()
        self._invoke_callbacks()
        return True

    # -- caller side -------------------------------------------------------------------------
    def _ask_fetch(self) -> None:
        with self._condition:
            if not self._remote or self._fetch_asked:
                return
            self._fetch_asked = True
        self.owner._driver.command("fetch", self.task_id)

    def _is_ended(self) -> bool:
        """done(), without the lock: for the driver thread, the only one that finishes a
        Future (the GIL makes the read whole; the lock is every Future's of the pool, and a
        driver blocked on it waits for the caller's thread to give up the GIL)."""
        return self._state in _ENDED

    def result(self, timeout: float | None = None) -> Any:
        if self._state == FINISHED and not self._remote and self._exception is None:
            return self._result  # (set before the state: the common case takes no lock)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            self._wait_ended(timeout)
            if not self._remote:
                return self._value()
        self._ask_fetch()
        with self._condition:
            while self._remote:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"taskscope: fetching the result of {self.key!r} timed out")
                self._wait(0.1 if remaining is None else min(remaining, 0.1))
            return self._value()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        with self._condition:
            self._wait_ended(timeout)
            exc, remote = self._exception, self._remote
        if exc is None and remote:
            try:
                self.result(timeout)
            except TimeoutError:
                raise
            except BaseException as err:  # the fetch failed (its worker died)
                return err
        return exc

    def cancel(self) -> bool:
        cancelled = self._cancel_here()
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
