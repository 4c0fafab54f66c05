"""joblib on taskscope: ``parallel_config(backend="taskscope")``.

>>> import joblib, taskscope.joblib                       # doctest: +SKIP
>>> with joblib.parallel_config(backend="taskscope", n_jobs=2):
...     search.fit(X, y)          # scikit-learn's n_jobs work, on a taskscope pool

Each ``Parallel`` call becomes one batch call (pool/batches.py) on a taskscope pool -- one row in
the dashboards, named by the function its tasks run (``_fit_and_score`` under GridSearchCV),
with the user's line as its call site::

    Parallel.__call__ -> start_call(): a _Run for this call (its sizer, its BatchCall later;
                         a list call freezes the caller's old objects, _joblib_gc.py)
      dispatch: compute_batch_size() <- the sizer, from the workers' own timings (chunking.py)
                submit(BatchedCalls) -> BatchCall.submit(items): pickled here (one function's
                                        items as a column, _batch_items.py), run in a worker
                                        inside WorkerContext (nested backend, thread caps)
      delivery thread: future done -> joblib's callback -> it dispatches the next batch
      error/timeout/interrupt -> abort_everything(): queued batches cancelled, running killed
    stop_call() -> BatchCall.close(): call.ended; the collector unfrozen

The pool is the one given (``parallel_config(backend="taskscope", pool=pool)``) or a reusable
one made on first use, as loky's executor is, and remade when another n_jobs is asked for.
No Jupyter import here; ``taskscope.joblib`` re-exports this module.
"""
from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import joblib
from joblib.parallel import (
    FallbackToBackend,
    ParallelBackendBase,
    SequentialBackend,
    register_parallel_backend,
)

from . import worker as _worker
from ._joblib_gc import freeze_for_call, unfreeze_after_call
from ._joblib_names import task_function, user_callsite
from ._joblib_pools import acquire, get_pool, release
from ._joblib_worker import NestedThreads, WorkerContext
from .batches import BatchCall, open_batch_call
from .callsite import describe_function
from .chunking import ChunkSizer
from .errors import PoolClosedError, RemoteTraceback
from .pool import Pool

__all__ = ["BACKEND_NAME", "TaskscopeBackend", "get_pool", "register"]

BACKEND_NAME = "taskscope"
API = "joblib"  # the call's `api` in the event stream and the dashboards
KNOWN_PARAMS = ("pool", "initializer", "initargs")

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS",
                "NUMEXPR_NUM_THREADS")
_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS")
# At most this many tasks in one of joblib's slices (it reads batch_size x n_jobs tasks of the
# input at once, then cuts them into batches). The sizer alone asks for ~100 ms of work per
# batch: for x*x that is 30,000-100,000 tasks, and a slice of 100,000 (fn, args, kwargs)
# triples alive at once makes the caller's garbage collector traverse them again and again
# while joblib's generator builds them. Measured, building + pickling 200,000 tasks in slices:
# 0.53 s up to 10,000 a slice, 0.65-0.83 s with 20,000-100,000. Below ~8,000 tasks a batch is
# still milliseconds of work per round trip for the tiniest tasks.
MAX_SLICE_TASKS = 8192


def register() -> None:
    """Register the ``"taskscope"`` backend with joblib (importing this module does it)."""
    register_parallel_backend(BACKEND_NAME, TaskscopeBackend)


class _Sizer(ChunkSizer):
    """taskscope's adaptive chunking, starting from single tasks as joblib's auto batching
    does: a task of GridSearchCV may take a minute, and nothing is timed yet."""

    def next_size(self, remaining: int | None) -> int:
        if self.per_item_s is None and self.fixed is None:
            self.last = 1
            return 1
        return super().next_size(remaining)


class _Run:
    """One ``Parallel.__call__`` on the backend: its pool and sizer, then its batch call."""

    __slots__ = ("batch", "froze_gc", "parallel", "pool", "reusable", "sizer", "total_sent")

    def __init__(self, parallel: Any, pool: Pool, reusable: bool) -> None:
        self.parallel = parallel
        self.pool = pool
        self.reusable = reusable
        # The caller's collector skips the objects made before a list call (_joblib_gc.py).
        self.froze_gc = parallel is not None and getattr(parallel, "return_generator", True) \
            is False and freeze_for_call()
        self.sizer = _Sizer(pool.n_workers, _total_of(parallel))
        self.batch: BatchCall | None = None
        self.total_sent = _total_of(parallel) is not None


class _Future(Future):
    """joblib < 1.5 and retrieve_result() read a job's `.get`. A method, not ``future.get =
    future.result``: that bound method made every batch's future a reference cycle, garbage
    only the caller's collector could free."""

    get = Future.result


def _total_of(parallel: Any) -> int | None:
    n = getattr(parallel, "n_tasks", None)  # joblib >= 1.4; None for generators
    return n if isinstance(n, int) and n >= 0 else None


class TaskscopeBackend(ParallelBackendBase):
    """joblib's ``"taskscope"`` backend: every Parallel call runs on a taskscope pool.

    Parameters
    ----------
    pool:
        the `taskscope.Pool` to run on; default: a reusable pool named ``joblib``, with
        ``n_jobs`` workers (all usable CPUs for ``n_jobs=-1`` or unset).
    initializer, initargs:
        run ``initializer(*initargs)`` once in each worker of the reusable pool (as loky's
        and joblib >= 1.5's process backends take them); with ``pool=``, give them to the Pool.
    """

    supports_retrieve_callback = True  # hence generators and timeouts too
    supports_inner_max_num_threads = True
    default_n_jobs = -1  # scikit-learn's n_jobs=None runs on the whole pool, as with Dask
    supports_sharedmem = False
    uses_threads = False

    def __init__(self, nesting_level: int | None = None, inner_max_num_threads: int | None = None,
                 pool: Pool | None = None, initializer: Any = None, initargs: Any = (),
                 **params: Any) -> None:
        if params:
            bad = ", ".join(sorted(params))
            raise TypeError(
                f"taskscope: the joblib backend {BACKEND_NAME!r} got unknown parameter(s) {bad}; "
                f"it takes {', '.join(KNOWN_PARAMS)} (and joblib's n_jobs, "
                f"inner_max_num_threads), e.g. parallel_config(backend={BACKEND_NAME!r}, "
                "pool=taskscope.Pool(4))")
        super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads)
        if pool is not None:
            _check_pool(pool)
        self.pool = pool
        self._setup = _check_setup(pool, initializer, initargs)
        self._runs: list[_Run] = []  # calls under way, innermost last
        self._lock = threading.Lock()

    def __reduce__(self) -> Any:
        # Inside a worker this backend is never used (nested calls get NestedThreads), but
        # joblib may pickle the active backend: the pool does not travel.
        return (TaskscopeBackend, (self.nesting_level, self.inner_max_num_threads))

    # ------------------------------------------------------------------ sizing
    def _size(self) -> int | None:
        return self.pool.n_workers if self.pool is not None else None

    def effective_n_jobs(self, n_jobs: Any) -> int:
        if n_jobs == 0:
            raise ValueError(
                "n_jobs == 0 in Parallel has no meaning; taskscope: pass n_jobs=-1 (or leave it "
                "out) for every worker of the pool, or a positive number of workers")
        if _worker.IN_WORKER or multiprocessing.current_process().daemon:
            if n_jobs not in (1, None):
                where = ("a taskscope worker" if _worker.IN_WORKER else
                         "a daemonic process (a worker of another pool)")
                warnings.warn(f"taskscope: Parallel(backend={BACKEND_NAME!r}) inside {where} "
                              "runs sequentially: a pool there would oversubscribe the CPUs "
                              "(or cannot start at all)", stacklevel=3)
            return 1
        size = self._size() or joblib.cpu_count()
        if n_jobs is None:
            n_jobs = self.default_n_jobs
        n_jobs = int(n_jobs)
        if n_jobs < 0:
            return max(size + 1 + n_jobs, 1)
        return min(n_jobs, size) if self.pool is not None else n_jobs

    def configure(self, n_jobs: int = 1, parallel: Any = None, prefer: Any = None,
                  require: Any = None, **backend_kwargs: Any) -> int:
        # joblib passes its memmapping options (max_nbytes, mmap_mode, temp_folder), verbose
        # and a multiprocessing context: taskscope's pool has its own transport and start method.
        if self.pool is not None:
            _check_pool(self.pool)  # also when n_jobs=1 makes the call sequential
        n = self.effective_n_jobs(n_jobs)
        if "initializer" in backend_kwargs or "initargs" in backend_kwargs:  # Parallel(initializer=)
            self._setup = _check_setup(self.pool, backend_kwargs.get("initializer", self._setup[0]),
                                       backend_kwargs.get("initargs", self._setup[1]))
        if n == 1:
            raise FallbackToBackend(SequentialBackend(nesting_level=self.nesting_level))
        self.parallel = parallel
        self._n_jobs = n
        return n

    def compute_batch_size(self) -> int:
        run = self._current()
        if run is None:
            return 1
        parallel = run.parallel
        total = _total_of(parallel)
        remaining = None if total is None else total - getattr(parallel, "n_dispatched_tasks", 0)
        cap = max(1, MAX_SLICE_TASKS // max(1, getattr(self, "_n_jobs", 1)))
        return min(run.sizer.next_size(remaining), cap)

    # ------------------------------------------------------------------ one call
    def start_call(self) -> None:
        if self.pool is not None:
            _check_pool(self.pool)
            run = _Run(getattr(self, "parallel", None), self.pool, reusable=False)
        else:
            n = getattr(self, "_n_jobs", None) or self.effective_n_jobs(-1)
            run = _Run(getattr(self, "parallel", None), acquire(n, *self._setup), reusable=True)
        with self._lock:
            self._runs.append(run)

    def stop_call(self) -> None:
        with self._lock:
            run = self._runs.pop() if self._runs else None
        if run is None:
            return
        try:
            if run.batch is not None:
                self._note_exhausted(run)
                run.batch.close()
            if run.reusable:
                release(run.pool)
        finally:
            if run.froze_gc:
                unfreeze_after_call()

    @contextlib.contextmanager
    def retrieval_context(self) -> Iterator[None]:
        # Entered once joblib dispatched its first batches: with pre_dispatch="all" (or a
        # short input) the whole input has been read, so the call's total is known.
        run = self._current()
        if run is not None:
            self._note_exhausted(run)
        yield

    def _current(self) -> _Run | None:
        runs = self._runs
        return runs[-1] if runs else None

    def _run_for(self, parallel: Any) -> _Run | None:
        with self._lock:
            for run in reversed(self._runs):
                if run.parallel is parallel:
                    return run
            return self._runs[-1] if self._runs else None

    def submit(self, func: Any, callback: Any = None) -> Future:
        parallel = getattr(callback, "parallel", None) or getattr(self, "parallel", None)
        run = self._run_for(parallel)
        if run is None:  # joblib calls start_call first; be safe if another engine does not
            self.start_call()
            run = self._current()
        items = getattr(func, "items", None) or [(func, (), {})]  # a BatchedCalls' triples
        if run.batch is None:
            run.batch = self._open(run, items)
        future = _Future()
        if callback is not None:
            future.add_done_callback(callback)
        future.set_running_or_notify_cancel()
        run.batch.submit(items, functools.partial(self._settle, run, future))
        return future

    def _settle(self, run: _Run, future: Future, values: list[Any] | None,
                error: BaseException | None) -> None:
        """On the call's delivery thread: joblib's callback runs (and dispatches the next
        batch, reading more of the input) inside set_result/set_exception."""
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(values)
        self._note_exhausted(run)

    apply_async = submit  # joblib 1.3 and 1.4 call apply_async

    def _open(self, run: _Run, items: list[Any]) -> BatchCall:
        info = describe_function(task_function(items[0][0]))
        info["callsite"] = user_callsite()
        n = self._n_jobs
        context = WorkerContext(self._nested(n), *_thread_caps(self.inner_max_num_threads, n))
        return open_batch_call(run.pool, info, api=API, context=context,
                               total=_total_of(run.parallel), sizer=run.sizer)

    def _note_exhausted(self, run: _Run) -> None:
        """Once joblib read the whole input, the call's total is known."""
        parallel = run.parallel
        if run.batch is not None and not run.total_sent and not run.batch.closed \
                and getattr(parallel, "_original_iterator", 0) is None \
                and not getattr(parallel, "_iterating", True) \
                and not getattr(parallel, "_aborting", False):
            run.total_sent = True
            run.batch.set_total(parallel.n_dispatched_tasks)

    def retrieve_result_callback(self, future: Future) -> Any:
        return future.result()

    def abort_everything(self, ensure_ready: bool = True) -> None:
        run = self._current()
        if run is None or run.batch is None:
            return
        exc = sys.exc_info()[1]  # joblib aborts from inside its `except` clause
        cause, message = "erred", ""
        if isinstance(exc, KeyboardInterrupt) and not isinstance(exc.__cause__, RemoteTraceback):
            cause = "interrupted"
        elif isinstance(exc, GeneratorExit) or exc is None:
            cause = "cancelled"
        elif type(exc) is multiprocessing.TimeoutError and not exc.args:  # joblib's own
            timeout = getattr(run.parallel, "timeout", None)
            cause, message = "timeout", (f"taskscope: joblib's Parallel(timeout={timeout}) "
                                         "expired waiting for a batch")
        run.batch.abort(cause, message)

    def get_nested_backend(self) -> tuple[Any, Any]:
        # joblib asks once per batch, in the caller's dispatch path (for a batch's pickle,
        # which this backend does not send: the workers get it in WorkerContext): reuse one,
        # joblib.cpu_count() reads the cgroup files each time.
        n = getattr(self, "_n_jobs", None) or self.effective_n_jobs(-1)
        cached = getattr(self, "_nested_cache", None)
        if cached is None or cached[0] != (n, self.inner_max_num_threads):
            cached = self._nested_cache = ((n, self.inner_max_num_threads), self._nested(n))
        return cached[1], None

    def _nested(self, n_jobs: int) -> NestedThreads:
        """Parallel calls inside a task: threads, a CPU's share each (sequential when that is
        one), or inner_max_num_threads of them."""
        cap = self.inner_max_num_threads or max(1, joblib.cpu_count() // max(1, n_jobs))
        return NestedThreads(cap, nesting_level=(self.nesting_level or 0) + 1)


def _check_pool(pool: Any) -> None:
    if not isinstance(pool, Pool):
        raise TypeError(f"taskscope: pool= must be a taskscope.Pool, not {type(pool).__name__} "
                        f"{pool!r}; e.g. parallel_config(backend={BACKEND_NAME!r}, "
                        "pool=taskscope.Pool(4))")
    if pool.status in ("closed", "broken"):
        raise PoolClosedError(
            f"taskscope: the pool passed as pool= ({pool.name!r}) is {pool.status}; pass a live "
            f"taskscope.Pool, or leave pool= out to use a reusable one")


def _check_setup(pool: Any, initializer: Any, initargs: Any) -> tuple[Any, tuple[Any, ...]]:
    if initializer is not None and not callable(initializer):
        raise TypeError(f"taskscope: initializer= must be callable, not "
                        f"{type(initializer).__name__} {initializer!r}")
    if pool is not None and initializer is not None:
        raise ValueError("taskscope: initializer= is for the reusable pool; with pool=, give it "
                         "to the pool: taskscope.Pool(n, initializer=f, initargs=(...))")
    return initializer, tuple(initargs or ())


def _thread_caps(explicit: int | None, n_jobs: int) -> tuple[dict[str, str], dict[str, int]]:
    """As loky: inner_max_num_threads, else a CPU's share per worker unless the user set the
    variable; as environment variables, and as threadpoolctl limits by API."""
    share = max(joblib.cpu_count() // max(1, n_jobs), 1)
    env = {var: str(explicit if explicit is not None else os.environ.get(var, share))
           for var in _THREAD_VARS}
    if "ENABLE_IPC" not in os.environ:
        env["ENABLE_IPC"] = "1"  # TBB schedulers then coordinate across processes

    def as_int(var: str) -> int:
        try:
            return max(1, int(env[var]))
        except ValueError:
            return share

    blas = next((v for v in _BLAS_VARS if v in os.environ), "OPENBLAS_NUM_THREADS")
    return env, {"openmp": as_int("OMP_NUM_THREADS"), "blas": as_int(blas)}


register()
