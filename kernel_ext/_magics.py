"""`%load_ext taskscope`: the `%taskscope` magic and automatic per-call progress bars."""
from __future__ import annotations

import logging
import shlex
from typing import Any

from taskscope.pool import _hooks
from taskscope.pool.pool import _live_pools

__all__ = ["load", "unload"]

log = logging.getLogger("taskscope")

HELP = """\
%taskscope            show the dashboard of the most recent live pool
%taskscope NAME       show the dashboard of the pool named NAME
%taskscope list       list the live pools of this kernel
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
    pools = [p for p in _live_pools if p.status != "closed"]
    return sorted(pools, key=lambda p: p._driver.started_at)


def _on_pool_created(pool: Any) -> None:
    if _in_kernel():
        from .collector import collector_for

        collector_for(pool)  # subscribe now, so the dashboard has the pool's whole story


def _on_call_started(pool: Any, call: Any) -> None:
    if call.api not in PROGRESS_APIS:
        return
    if _in_kernel():
        from .widgets import Dashboard

        Dashboard.for_pool(pool, call=call.id).show()
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
    from .widgets import Dashboard

    try:
        return Dashboard.for_pool(pool, panes=panes)
    except ValueError as exc:
        print(exc)
        return None


def load(ipython: Any) -> None:
    ipython.register_magic_function(taskscope_magic, magic_kind="line", magic_name="taskscope")
    _hooks.add("pool_created", _on_pool_created)
    _hooks.add("call_started", _on_call_started)


def unload(ipython: Any) -> None:
    _hooks.remove("pool_created", _on_pool_created)
    _hooks.remove("call_started", _on_call_started)
