"""The errors taskscope raises, and when.

Every message says what happened, with the values involved, and what to do about it.
"""
from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

__all__ = [
    "BadSignatureError",
    "PoolBrokenError",
    "PoolClosedError",
    "ProtocolError",
    "RemoteTraceback",
    "SerializationError",
    "TaskCancelledError",
    "TaskError",
    "TaskTimeoutError",
    "TaskscopeError",
    "WorkerDiedError",
    "WorkerMemoryError",
    "chain_remote",
]


class TaskscopeError(Exception):
    """Base class of every error taskscope raises itself."""


class PoolClosedError(TaskscopeError, RuntimeError):
    """Raised when work is given to a pool that was shut down (or is shutting down)."""


class PoolBrokenError(TaskscopeError, BrokenProcessPool):
    """Raised for all work of a pool that cannot run tasks any more (its initializer failed).

    A subclass of `concurrent.futures.process.BrokenProcessPool`, as the stdlib raises.
    """


class SerializationError(TaskscopeError, TypeError):
    """Raised when a function, an argument or a result cannot be pickled or unpickled.

    Raised in the caller, before any work starts, for functions and for `submit` arguments;
    for `map` items and results it is the error of that one item.
    """


class ProtocolError(TaskscopeError):
    """Raised when a message is malformed or speaks another major protocol version."""


class BadSignatureError(ProtocolError):
    """Raised when a message's HMAC does not match (tampered, unsigned or replayed)."""


class RemoteTraceback(Exception):
    """Carries the worker's traceback text; chained as ``__cause__`` of the error raised."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return self.tb


def chain_remote(excs: dict[int, BaseException], errors: dict[int, dict], call: object,
                 index0: int, where: str) -> None:
    """Give each failed item's exception (by index in its chunk) the worker's traceback as
    ``__cause__`` and a note naming the function, argument, `where` it ran, item and call."""
    for index, exc in excs.items():
        info = errors.get(index, {})
        exc.__cause__ = RemoteTraceback(info.get("traceback", ""))
        if hasattr(exc, "add_note"):
            exc.add_note(f"taskscope: raised by {call.info['fn']}({info.get('arg', '?')}) "  # type: ignore[attr-defined]
                         f"in {where}; item {index0 + index} of call {call.id} ({call.api})")  # type: ignore[attr-defined]


class TaskError(TaskscopeError):
    """Raised in the caller when a task raised an exception that could not be re-raised as itself.

    (Normally the task's own exception is re-raised, with the worker's traceback chained as
    ``__cause__``; this class wraps exceptions that could not be pickled.)
    """


class WorkerDiedError(TaskscopeError, BrokenProcessPool):
    """Raised for a task whose worker process died while running it.

    Attributes give the worker id, its pid, and the exit code or signal number. Unlike the
    stdlib's pool, taskscope replaces the worker and keeps going; only the task that was
    running fails (a `BrokenProcessPool` subclass, so stdlib-style handlers still catch it).
    """

    def __init__(self, message: str, *, worker: int | None = None, pid: int | None = None,
                 exitcode: int | None = None, signal: int | None = None) -> None:
        super().__init__(message)
        self.worker = worker
        self.pid = pid
        self.exitcode = exitcode
        self.signal = signal

    def __reduce__(self):  # keep the attributes through pickling
        return (_rebuild_worker_died, (str(self), self.worker, self.pid, self.exitcode, self.signal))


def _rebuild_worker_died(message, worker, pid, exitcode, signal):
    return WorkerDiedError(message, worker=worker, pid=pid, exitcode=exitcode, signal=signal)


class WorkerMemoryError(WorkerDiedError):
    """Raised for a task whose worker went over the pool's ``memory_limit`` and was restarted.

    ``limit`` and ``rss`` (bytes) are the limit and the worker's resident memory when seen.
    """

    def __init__(self, message: str, *, worker: int | None = None, pid: int | None = None,
                 exitcode: int | None = None, signal: int | None = None,
                 limit: int | None = None, rss: int | None = None) -> None:
        super().__init__(message, worker=worker, pid=pid, exitcode=exitcode, signal=signal)
        self.limit = limit
        self.rss = rss

    def __reduce__(self):
        return (_rebuild_worker_memory, (str(self), self.worker, self.pid, self.exitcode,
                                         self.signal, self.limit, self.rss))


def _rebuild_worker_memory(message, worker, pid, exitcode, signal, limit, rss):
    return WorkerMemoryError(message, worker=worker, pid=pid, exitcode=exitcode, signal=signal,
                             limit=limit, rss=rss)


class TaskTimeoutError(TaskscopeError, TimeoutError):
    """Raised for a task that ran longer than its ``timeout=``: its worker was killed (and
    replaced) to stop it. A subclass of the builtin `TimeoutError`.

    ``timeout`` is the limit in seconds, ``worker`` and ``pid`` the worker that ran it.
    """

    def __init__(self, message: str, *, timeout: float | None = None, worker: int | None = None,
                 pid: int | None = None) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.worker = worker
        self.pid = pid

    def __reduce__(self):
        return (_rebuild_timeout, (str(self), self.timeout, self.worker, self.pid))


def _rebuild_timeout(message, timeout, worker, pid):
    return TaskTimeoutError(message, timeout=timeout, worker=worker, pid=pid)


class TaskCancelledError(TaskscopeError):
    """Raised for items of a call that were cancelled before they ran (an earlier item failed,
    the caller was interrupted, or the pool shut down with ``cancel_futures=True``)."""
