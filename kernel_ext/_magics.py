"""`%load_ext taskscope`: the `%taskscope` magic and automatic per-call progress bars."""
from __future__ import annotations

import logging
import shlex
import sys
import time
from typing import Any

from taskscope.pool import _hooks
from taskscope.pool.pool import _live_pools

__all__ = ["load", "unload"]

log = logging.getLogger("taskscope")

HELP = """\
%taskscope            show the dashboard of the most recent live pool (or watched
                      Dask cluster: taskscope.dashboard(client))
%taskscope NAME       show the dashboard of the pool named NAME
%taskscope list       list the live pools of this kernel
%taskscope popout [NAME]   a link to the pool's dashboard page in a browser tab
                      (served by this Jupyter server, behind its login)
%taskscope --panes progress,task-stream [NAME]   show only some panes
%taskscope --help     this help

With the extension loaded, every map / imap / starmap shows its own progress bar
under the cell (a text bar in a terminal). `display(pool.dashboard())` works anywhere.
"""
PROGRESS_APIS = ("map", "imap", "imap_unordered", "starmap", "executor.map")


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except ImportError:
        return False
    return ip is not None and hasattr(ip, "kernel")


def _live() -> list[Any]:
    """Live pools and watched Dask clusters (taskscope.dashboard(client)), oldest first."""
    found = [(p._driver.started_at, p) for p in _live_pools if p.status != "closed"]
    if "taskscope.pool.dask.watch" in sys.modules:
        from taskscope.pool.dask.watch import live_watches

        found += [(w.started_at, w) for w in live_watches()]
    return [p for _, p in sorted(found, key=lambda x: x[0])]


def _on_pool_created(pool: Any) -> None:
    if _in_kernel():
        from .collector import collector_for

        collector_for(pool)  # subscribe now, so the dashboard has the pool's whole story


# Progress bars shown by the cell that is running now: (bar, the pool's call object).
_cell_bars: list[tuple[Any, Any]] = []
_cell_closing: list[Any] = []  # pools shut down by the cell that is running now
FINAL_WAIT_S = 1.0  # at most this long, per cell, for the last events of finished calls


def _on_call_started(pool: Any, call: Any) -> None:
    if call.api not in PROGRESS_APIS:
        return
    if _in_kernel():
        from .widgets import CallProgress

        bar = CallProgress.for_pool(pool, call=call.id)
        bar.show()
        _cell_bars.append((bar, call))
    else:
        from taskscope.pool.progress import TextProgress

        TextProgress(call).start()


def taskscope_magic(line: str) -> Any:
    """The %taskscope line magic; see `%taskscope --help`."""
    args = shlex.split(line)
    panes: list[str] | None = None
    if "--panes" in args:
        i = args.index("--panes")
        if i + 1 >= len(args):
            print("taskscope: --panes needs a comma-separated list, e.g. --panes progress,memory")
            return None
        panes = [p for p in args[i + 1].split(",") if p]
        del args[i:i + 2]
    if "--help" in args or "-h" in args:
        print(HELP)
        return None
    live = _live()
    popout = bool(args) and args[0] == "popout"
    if popout:
        del args[0]
    if args and args[0] == "list":
        if not live:
            print("taskscope: no live pool in this kernel")
        for p in live:
            print(f"{p.name:<20} {p.n_workers} workers  {p.status}")
        return None
    if args:
        match = [p for p in live if p.name == args[0]]
        if not match:
            names = ", ".join(p.name for p in live) or "none"
            print(f"taskscope: no live pool named {args[0]!r} (live pools: {names})")
            return None
        pool = match[-1]
    elif live:
        pool = live[-1]
    else:
        print("taskscope: no live pool yet; create one with `pool = taskscope.Pool()`")
        return None
    if popout:
        return _popout(pool)
    from .widgets import Dashboard

    try:
        return Dashboard.for_pool(pool, panes=panes)
    except ValueError as exc:
        print(exc)
        return None


def _finish_cell_bars(*_args: Any) -> None:
    """post_run_cell: leave every finished call's bar at its final counts *before* the cell
    ends. `map` returns as soon as its results are in, while the events saying so reach the
    collector up to ~0.15 s later; without this, the last update (and the final static
    snapshot) would arrive after the cell ended, and nbclient/nbconvert would miss it."""
    bars = list(_cell_bars)
    _cell_bars.clear()
    deadline = time.monotonic() + FINAL_WAIT_S
    for bar, call in bars:
        results = getattr(call, "results", None)
        if results is not None and not results.finished:
            continue  # e.g. an imap left unconsumed: its bar keeps updating on its own
        col = bar._collector
        try:
            col.wait_for(lambda st, c=call.id: st.calls.get(c, {}).get("status") not in
                         (None, "running"), max(0.0, deadline - time.monotonic()))
            bar.push(col)
        except Exception:  # never break the user's cell
            log.exception("taskscope: could not finish a progress bar")
    # Pools shut down by this cell: same for their dashboards' final "closed" snapshot.
    closing = list(_cell_closing)
    _cell_closing.clear()
    for pool in closing:
        from .collector import _collectors

        col = _collectors.get(pool.id)
        if col is None:
            continue
        try:
            col.wait_for(lambda st: st.pool["status"] == "closed",
                         max(0.0, deadline - time.monotonic()))
            with col.lock:
                views = list(col._views)
            for view in views:
                view.push(col)
        except Exception:
            log.exception("taskscope: could not finish a dashboard")


def _on_pool_closing(pool: Any) -> None:
    if _in_kernel():
        _cell_closing.append(pool)


def _popout(pool: Any) -> Any:
    from ._popout import find_server, page_url

    if getattr(pool, "_registry_finalizer", None) is None:
        print(f"taskscope: pool {pool.name!r} is not in the registry (see the warning when it "
              "was created), so the Jupyter server cannot show it")
        return None
    if find_server() is None:
        print("taskscope: no running Jupyter server found; the pop-out page is served by "
              "`jupyter lab` / `jupyter server` with taskscope installed")
        return None
    url = page_url(pool.id)
    if not _in_kernel():
        print(f"taskscope: {page_url(pool.id, absolute=True)}")
        return None
    from .widgets import PopoutLink

    return PopoutLink(url=url, name=pool.name)


def load(ipython: Any) -> None:
    ipython.register_magic_function(taskscope_magic, magic_kind="line", magic_name="taskscope")
    _hooks.add("pool_created", _on_pool_created)
    _hooks.add("call_started", _on_call_started)
    _hooks.add("pool_closing", _on_pool_closing)
    if _finish_cell_bars not in ipython.events.callbacks["post_run_cell"]:
        ipython.events.register("post_run_cell", _finish_cell_bars)


def unload(ipython: Any) -> None:
    _hooks.remove("pool_created", _on_pool_created)
    _hooks.remove("call_started", _on_call_started)
    _hooks.remove("pool_closing", _on_pool_closing)
    if _finish_cell_bars in ipython.events.callbacks["post_run_cell"]:
        ipython.events.unregister("post_run_cell", _finish_cell_bars)
