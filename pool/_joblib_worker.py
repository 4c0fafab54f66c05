"""What a joblib call needs in taskscope's workers: nested Parallel calls and native threads.

Sent once per call to each worker (the batch call's context, pool/batches.py) and entered
around every batch there::

    NestedThreads   the backend of Parallel calls made inside a task: threads, at most
                    `max_threads` of them, sequential when that is 1 (joblib's default would
                    be cpu_count() threads in every worker: oversubscription)
    WorkerContext   per batch: parallel_config(backend=NestedThreads) and the BLAS/OpenMP
                    thread pools capped -- environment variables for libraries not loaded yet,
                    threadpoolctl for those already loaded (loky only sets the variables when
                    it starts a worker; taskscope's workers outlive calls)
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any

from joblib.parallel import BACKENDS, ThreadingBackend, parallel_config

__all__ = ["NestedThreads", "WorkerContext"]


class NestedThreads(ThreadingBackend):
    """joblib's threading backend, capped at `max_threads` threads (sequential at 1)."""

    def __init__(self, max_threads: int = 1, nesting_level: int | None = None,
                 inner_max_num_threads: int | None = None) -> None:
        # joblib 1.3/1.4 pass unknown keyword arguments on to object.__init__: none here.
        super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads)
        self.max_threads = max(1, int(max_threads))

    def effective_n_jobs(self, n_jobs: Any) -> int:
        return min(super().effective_n_jobs(n_jobs), self.max_threads)


# The threadpoolctl controller of this worker, remade when modules were imported since (a new
# module may have loaded a new native library), at most every REFRESH_S: making one scans the
# loaded libraries (milliseconds), and scikit-learn imports modules lazily during fits. A
# library loaded meanwhile started under the thread-count variables set around each batch.
_controller: Any = None
_modules_seen = -1
_refreshed = 0.0
REFRESH_S = 10.0


def _limit_loaded(limits: dict[str, int]) -> Any:
    """Cap the thread pools of the native libraries loaded now; returns what restores them."""
    global _controller, _modules_seen, _refreshed
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # the variables alone then (taskscope[joblib] installs threadpoolctl)
        return None
    now = time.monotonic()
    if _controller is None or (len(sys.modules) != _modules_seen and now - _refreshed > REFRESH_S):
        _controller = ThreadpoolController()
        _modules_seen, _refreshed = len(sys.modules), now
    if not _controller.lib_controllers:
        return None
    return _controller.limit(limits=limits)


class WorkerContext:
    """Entered around each batch of one joblib call in a worker (see the module docstring).

    Parameters
    ----------
    nested:
        the backend nested Parallel calls get (`NestedThreads`).
    env:
        thread-count variables (OMP_NUM_THREADS...) to set while the batch runs, for the
        libraries it loads.
    limits:
        threadpoolctl limits by user API (``{"blas": 1, "openmp": 1}``) for loaded libraries.
    """

    def __init__(self, nested: NestedThreads, env: dict[str, str], limits: dict[str, int]) -> None:
        self.nested = nested
        self.env = env
        self.limits = limits

    def __call__(self) -> _Entered:
        return _Entered(self)


class _Entered:
    __slots__ = ("_config", "_ctx", "_limiter", "_saved_env")

    def __init__(self, ctx: WorkerContext) -> None:
        self._ctx = ctx

    def __enter__(self) -> _Entered:
        ctx = self._ctx
        if "taskscope" not in BACKENDS:  # a task may name it: Parallel(backend="taskscope")
            import taskscope.pool.joblib  # noqa: F401  (registers it; it runs sequentially here)
        self._saved_env = {k: os.environ.get(k) for k in ctx.env}
        os.environ.update(ctx.env)
        self._limiter = _limit_loaded(ctx.limits)
        # n_jobs=None: a nested Parallel() without n_jobs runs sequentially, as under loky.
        self._config = parallel_config(backend=ctx.nested, n_jobs=None)
        return self

    def __exit__(self, *exc: object) -> None:
        self._config.unregister()
        if self._limiter is not None:
            self._limiter.restore_original_limits()
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
