"""The reusable pools joblib calls run on when no ``pool=`` is given (pool/joblib.py).

One at a time is current, as loky keeps one reusable executor: made on first use with
``n_jobs`` workers (and the backend's initializer), remade when a call asks for another
number of workers or another initializer; a replaced pool is shut down once no call runs on it.
"""
from __future__ import annotations

import threading
from typing import Any

from .pool import Pool

__all__ = ["acquire", "get_pool", "release"]

_reusable: Pool | None = None
_in_use: dict[str, int] = {}  # pool id -> joblib calls running on it
_retired: dict[str, Pool] = {}  # replaced reusable pools, shut down once their calls end
_pools_lock = threading.Lock()


def get_pool() -> Pool | None:
    """The reusable pool joblib calls run on when no ``pool=`` is given (None before the first)."""
    return _reusable if _reusable is not None and _reusable.status != "closed" else None


def _same_setup(pool: Pool, initializer: Any, initargs: tuple[Any, ...]) -> bool:
    old_init, old_args = getattr(pool, "_joblib_setup", (None, ()))
    # By identity: initargs may hold a multiprocessing proxy, whose == asks its server.
    return old_init is initializer and len(old_args) == len(initargs) \
        and all(a is b for a, b in zip(old_args, initargs, strict=True))


def acquire(n_workers: int, initializer: Any = None, initargs: tuple[Any, ...] = ()) -> Pool:
    """The reusable pool with `n_workers` workers (and this initializer), made or remade if
    needed, for one call.

    A call asking for another number of workers or another initializer gets a new pool, as
    loky resizes or remakes its executor; the old one is shut down once no call runs on it."""
    global _reusable
    with _pools_lock:
        pool = _reusable
        if pool is None or pool.status in ("closed", "broken") or pool.n_workers != n_workers \
                or not _same_setup(pool, initializer, initargs):
            if pool is not None:
                _retired[pool.id] = pool
            pool = _reusable = Pool(n_workers, name="joblib", initializer=initializer,
                                    initargs=initargs)
            pool._joblib_setup = (initializer, initargs)  # type: ignore[attr-defined]
        _in_use[pool.id] = _in_use.get(pool.id, 0) + 1
        idle = [p for p in _retired.values() if not _in_use.get(p.id)]
    for old in idle:
        _retire(old)
    return pool


def release(pool: Pool) -> None:
    with _pools_lock:
        left = _in_use.get(pool.id, 1) - 1
        if left > 0:
            _in_use[pool.id] = left
            return
        _in_use.pop(pool.id, None)
        retire = pool.id in _retired
    if retire:
        _retire(pool)


def _retire(pool: Pool) -> None:
    with _pools_lock:
        _retired.pop(pool.id, None)
    pool.shutdown(wait=False)


