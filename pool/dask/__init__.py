"""taskscope's panes for a Dask cluster (``pip install 'taskscope[dask]'``).

>>> import taskscope
>>> display(taskscope.dashboard(client))     # doctest: +SKIP

`watch(client)` publishes the cluster's progress per task prefix, task stream per worker
thread, workers' memory and CPU, and errors as a taskscope event stream, over the Client's
own connection (a scheduler plugin sent by value; polling when the scheduler refuses it).
Importing this package does not import ``distributed``; `watch()` does.
"""
from __future__ import annotations

from .watch import MIN_DISTRIBUTED, DaskWatch, DaskWatchError, live_watches, watch

__all__ = ["MIN_DISTRIBUTED", "DaskWatch", "DaskWatchError", "live_watches", "watch"]
