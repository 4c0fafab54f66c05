"""`ProcessPoolExecutor`: a drop-in for `concurrent.futures.ProcessPoolExecutor` on taskscope's
engine, so code written for the stdlib shows up in taskscope's dashboards unchanged."""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

from .errors import PoolClosedError
from .pool import Pool

__all__ = ["ProcessPoolExecutor"]

_numbers = itertools.count(1)


class ProcessPoolExecutor(Executor):
    """Same constructor and contract as `concurrent.futures.ProcessPoolExecutor`.

    Differences a user may notice, all in the user's favour: a worker that dies fails only the
    task it ran (a `BrokenProcessPool` subclass naming worker, pid and signal) and is replaced;
    lambdas and closures work (cloudpickle); the default start method is forkserver on Linux.
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
        self._pool = Pool(max_workers, start_method=method, initializer=initializer,
                          initargs=initargs, max_tasks_per_worker=max_tasks_per_child,
                          name=f"executor-{next(_numbers)}")
        self._max_workers = self._pool.n_workers

    @property
    def pool(self) -> Pool:
        """The taskscope `Pool` underneath (for ``dashboard()``, ``errors``, ...)."""
        return self._pool

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        try:
            return self._pool.submit(fn, *args, **kwargs)
        except PoolClosedError as exc:
            if self._pool._driver.broken is not None:
                raise self._pool._driver.broken from None
            raise RuntimeError("cannot schedule new futures after shutdown") from exc

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int = 1) -> Iterator[Any]:
        """Lazy results in order; raises at the failing item; `timeout` counts from this call."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            call, results = self._pool._start_call("executor.map", fn, zip(*iterables), chunksize,
                                                   mode="star", ordered=True, fail_fast=False)
        except PoolClosedError as exc:
            raise RuntimeError("cannot schedule new futures after shutdown") from exc
        return self._pool._iterate(call, results, deadline)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait, cancel_futures=cancel_futures)
