"""`taskscope.dashboard(x)`: one entry point for the dashboard of a pool or a Dask cluster.

A taskscope Pool (or anything with a ``dashboard()`` method, e.g. a Pool on Dask workers)
gives its own ``dashboard()``. A ``distributed.Client``, a Dask cluster object or a scheduler
address is watched (taskscope.pool.dask: one watch per Client, over its own connection) and
the watch's event stream gets the same Dashboard widget, State and panes as a pool.
"""
from __future__ import annotations

import sys
from typing import Any

__all__ = ["dashboard", "latest"]


def _is_dask(target: Any) -> bool:
    """A Client, a cluster or an address: told apart without importing distributed."""
    module = type(target).__module__ or ""
    if module.split(".")[0] in ("distributed", "dask_jobqueue", "dask_kubernetes",
                                "dask_cloudprovider", "coiled", "dask_gateway"):
        return True
    if "distributed" in sys.modules and hasattr(target, "scheduler_address"):
        return True  # some other cluster manager
    return isinstance(target, str) and "://" in target


def dashboard(target: Any = None, **options: Any) -> Any:
    """The live dashboard of a taskscope `Pool` or of a Dask cluster.

    Parameters
    ----------
    target:
        a `taskscope.Pool` (the same as ``pool.dashboard()``); a ``distributed.Client``, a
        Dask cluster object or a scheduler address (``"tcp://host:8786"``), whose cluster is
        then watched over the Client's own connection; or None: the most recent live pool
        or watched cluster of this process.
    **options:
        ``panes=[...]`` to show only some panes (see `taskscope.widgets.PANES`); for a Dask
        target also ``name=`` (shown in the dashboard and the sidebar) and ``plugin=False``
        (poll the task stream instead of sending the scheduler a plugin).
    """
    from .widgets import Dashboard

    if target is None:
        target = latest()
        if target is None:
            raise ValueError("taskscope: nothing to show yet; pass a Pool or a "
                             "distributed.Client, e.g. `taskscope.dashboard(client)`")
    from taskscope.pool.dask.watch import DaskWatch

    if isinstance(target, DaskWatch):
        return Dashboard.for_pool(target, **options)
    if _is_dask(target):
        from taskscope.pool.dask import watch

        watch_options = {k: options.pop(k) for k in ("name", "plugin") if k in options}
        return Dashboard.for_pool(watch(target, **watch_options), **options)
    show = getattr(target, "dashboard", None)
    if callable(show):
        return show(**options)
    raise TypeError(f"taskscope: cannot show a dashboard of a {type(target).__name__}; pass a "
                    "taskscope.Pool, a distributed.Client, a Dask cluster or a scheduler "
                    "address")


def latest() -> Any:
    """The most recently started live pool or Dask watch of this process, or None."""
    from taskscope.pool.pool import _live_pools

    found = [(p._driver.started_at, p) for p in _live_pools if p.status != "closed"]
    if "taskscope.pool.dask.watch" in sys.modules:  # no watch was ever made otherwise
        from taskscope.pool.dask.watch import live_watches

        found += [(w.started_at, w) for w in live_watches()]
    found.sort(key=lambda x: x[0])
    return found[-1][1] if found else None
