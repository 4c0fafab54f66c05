"""taskscope: a process pool whose workers you can watch, live, inside the notebook.

>>> from taskscope import Pool
>>> with Pool() as pool:                       # doctest: +SKIP
...     display(pool.dashboard())
...     results = pool.map(f, items)

In Jupyter, ``%load_ext taskscope`` adds the ``%taskscope`` magic and a live progress bar
under every cell that runs a ``map``.
"""
from __future__ import annotations

import sys
from typing import Any

from taskscope.pool import (
    FailedTask,
    Pool,
    PoolBrokenError,
    PoolClosedError,
    ProcessPoolExecutor,
    SerializationError,
    TaskCancelledError,
    TaskError,
    TaskscopeError,
    TaskTimeoutError,
    WorkerDiedError,
    WorkerMemoryError,
    set_stacklevel,
    subscribe,
)

__version__ = "0.1.0"

__all__ = [
    "FailedTask",
    "Pool",
    "PoolBrokenError",
    "PoolClosedError",
    "ProcessPoolExecutor",
    "SerializationError",
    "TaskCancelledError",
    "TaskError",
    "TaskTimeoutError",
    "TaskscopeError",
    "WorkerDiedError",
    "WorkerMemoryError",
    "__version__",
    "_jupyter_server_extension_points",
    "dashboard",
    "_load_jupyter_server_extension",
    "load_ipython_extension",
    "report",
    "set_stacklevel",
    "subscribe",
    "unload_ipython_extension",
]


if "marimo" in sys.modules:  # marimo has no %load_ext: its notebooks get the bars on import
    from . import _marimo

    if _marimo.running():
        _marimo.install()


def dashboard(target: Any = None, **options: Any) -> Any:
    """The live dashboard of a `Pool` or of a Dask cluster (a ``distributed.Client``, a
    cluster or a scheduler address); see `taskscope._dashboard.dashboard`."""
    from ._dashboard import dashboard as _dashboard

    return _dashboard(target, **options)


def report(path: Any) -> Any:
    """``with taskscope.report("run.html"):`` writes one self-contained HTML report of every
    pool used in the block when it ends (Dask's ``performance_report``); see `Pool.report`."""
    from .reports import report as _report

    return _report(path)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext taskscope`` (Jupyter modules are imported only now)."""
    from . import _magics

    _magics.load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from . import _magics

    _magics.unload(ipython)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter Server finds the extension here (enabled by jupyter-config/)."""
    return [{"module": "taskscope"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Pop-out page, pool list and websockets (imported only when a server loads them)."""
    from .server import load

    load(serverapp)
