"""`ProcessPoolExecutor`: a drop-in for `concurrent.futures.ProcessPoolExecutor` on taskscope's
engine, so code written for the stdlib shows up in taskscope's dashboards unchanged.

Conformance is checked with CPython's own test suite (tests/integration/test_cpython_executor.py).
"""
from __future__ import annotations

import atexit
import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

from .errors import PoolClosedError, SerializationError
from .pool import Pool

__all__ = ["ProcessPoolExecutor"]

_numbers = itertools.count(1)
_live_executors: weakref.WeakSet[ProcessPoolExecutor] = weakref.WeakSet()
_interpreter_exiting = False


def _shutdown_at_exit() -> None:
    """Let every executor finish its submitted work, as the stdlib's do at interpreter exit.

    Registered with `threading._register_atexit`, like the stdlib's own hook, so it runs before
    any `atexit` handler (taskscope's Pool handler, which cancels pending work, included) and
    `submit` from an atexit handler fails as it does with the stdlib.
    """
    global _interpreter_exiting
    _interpreter_exiting = True
    for executor in list(_live_executors):
        try:
            executor.shutdown(wait=True)
        except Exception:
            pass


try:
    threading._register_atexit(_shutdown_at_exit)  # type: ignore[attr-defined]
except (AttributeError, RuntimeError):  # pragma: no cover - not CPython >= 3.9
    atexit.register(_shutdown_at_exit)


class _LoggedInitializer:
    """The user's initializer, logging its failure in the worker as the stdlib's worker does:
    on the ``concurrent.futures`` logger, at CRITICAL, with the traceback (then the pool breaks)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        try:
            return self.fn(*args)
        except BaseException:
            logging.getLogger("concurrent.futures").critical("Exception in initializer:",
                                                             exc_info=True)
            raise


def _original_error(exc: SerializationError) -> BaseException:
    """The pickler's own exception behind a SerializationError (what the stdlib reports),
    with taskscope's explanation added as a note."""
    original = exc.__cause__ if isinstance(exc.__cause__, BaseException) else exc
    if original is not exc and hasattr(original, "add_note"):
        original.add_note(str(exc))
    return original


class ProcessPoolExecutor(Executor):
    """Same constructor and contract as `concurrent.futures.ProcessPoolExecutor`.

    Differences a user may notice, all in the user's favour: a worker that dies fails only the
    task it ran (a `BrokenProcessPool` subclass naming worker, pid and signal) and is replaced;
    lambdas and closures work (cloudpickle); the default start method is forkserver on Linux;
    all workers start with the executor (the stdlib starts them on demand).
    """

    def __init__(self, max_workers: int | None = None, mp_context: Any = None,
                 initializer: Callable[..., Any] | None = None, initargs: Iterable[Any] = (), *,
                 max_tasks_per_child: int | None = None) -> None:
        if max_workers is not None and max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if max_tasks_per_child is not None:
            if not isinstance(max_tasks_per_child, int):
                raise TypeError("max_tasks_per_child must be an integer")
            if max_tasks_per_child <= 0:
                raise ValueError("max_tasks_per_child must be >= 1")
            if mp_context is not None and mp_context.get_start_method() == "fork":
                raise ValueError("max_tasks_per_child is incompatible with the 'fork' start "
                                 "method; use 'spawn' or 'forkserver'")
        method = mp_context.get_start_method() if mp_context is not None else None
        if initializer is not None:
            initializer = _LoggedInitializer(initializer)
        self._pool = Pool(max_workers, start_method=method, initializer=initializer,
                          initargs=initargs, max_tasks_per_worker=max_tasks_per_child,
                          name=f"executor-{next(_numbers)}")
        self._max_workers = self._pool.n_workers
        _live_executors.add(self)
        # Like the stdlib's: an executor dropped without shutdown() stops its workers once the
        # submitted work is done (a running `map` iterator keeps the pool itself alive).
        self._finalizer = weakref.finalize(self, self._pool.shutdown, False)
        self._finalizer.atexit = False

    @property
    def pool(self) -> Pool:
        """The taskscope `Pool` underneath (for ``dashboard()``, ``errors``, ...)."""
        return self._pool

    @property
    def _broken(self) -> str | bool:
        # The stdlib executor's attribute (False, or why the pool broke), read by code and tests
        # that wait for a failing initializer to break the pool.
        broken = self._pool._driver.broken
        return str(broken) if broken is not None else False

    def _refused(self, exc: PoolClosedError) -> BaseException:
        """What the stdlib raises when work is refused: BrokenProcessPool or RuntimeError."""
        if self._pool._driver.broken is not None:
            return self._pool._driver.broken
        return RuntimeError("cannot schedule new futures after shutdown")

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if _interpreter_exiting:
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")
        try:
            # keep=False: the result comes straight back, as the stdlib's does (no task graph).
            return self._pool._submit(fn, args, kwargs, keep=False)
        except PoolClosedError as exc:
            raise self._refused(exc) from None
        except SerializationError as exc:
            # The stdlib pickles in a background thread: the future fails, submit() does not.
            future: Future = Future()
            future.set_exception(_original_error(exc))
            return future

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int = 1) -> Iterator[Any]:
        """Lazy results in order; raises at the failing item; `timeout` counts from this call.

        As with the stdlib, the iterables are collected immediately and all the work is
        scheduled at once, whether or not the results are read.
        """
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        deadline = None if timeout is None else time.monotonic() + timeout
        if _interpreter_exiting:
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")
        items = list(zip(*iterables, strict=False))  # stops at the shortest, as map() does
        try:
            call, results = self._pool._start_call("executor.map", fn, items, chunksize,
                                                   mode="star", ordered=True, fail_fast=False)
        except PoolClosedError as exc:
            raise self._refused(exc) from None
        except SerializationError as exc:  # the function cannot be pickled: every item fails
            return _failing_results(_original_error(exc), len(items))
        return _results(self._pool, call, results, deadline)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait, cancel_futures=cancel_futures)


def _failing_results(exc: BaseException, n: int) -> Iterator[Any]:
    if n:
        raise exc
    yield from ()


def _results(pool: Pool, call: Any, results: Any, deadline: float | None) -> Iterator[Any]:
    """The results of an executor map, in order.

    Unlike `Pool._iterate`, it keeps no reference to a result it has handed out (the stdlib's
    iterator pops its futures likewise), and it takes `pool`, not the executor, so dropping
    the executor while iterating shuts it down as the stdlib's does.
    """
    finished = False
    try:
        for index0, values, excs in results.iter_chunks(deadline):
            # Emptying the list also empties the reference iter_chunks keeps while suspended.
            values.reverse()
            for i in range(len(values)):
                if i in excs:
                    values.clear()
                    pool._record_failure(call, index0 + i, excs[i])
                    raise excs[i]
                yield values.pop()
        finished = True
    except KeyboardInterrupt:
        pool._driver.command("cancel_call", call.id, "interrupted")
        raise
    finally:
        if not finished and not pool._driver.closed.is_set():
            try:
                pool._driver.command("cancel_call", call.id, "cancelled")
            except PoolClosedError:
                pass
