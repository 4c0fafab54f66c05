"""The pop-out page's URL for the current Jupyter server (`%taskscope popout`, the widget's
"Pop out" button).

The running servers are found as ``jupyter_server.serverapp.list_running_servers()`` finds
them (the ``jpserver-<pid>.json`` files in the Jupyter runtime directory, live pids only),
read directly: importing jupyter_server.serverapp costs ~2 s in a kernel. The server that
started this kernel is its parent process; failing that, the one whose root_dir holds the
working directory; else the first. The URL is relative to the server's origin
(``{base_url}taskscope/pools/<id>``), so it works behind proxies and JupyterHub, where the
server's own idea of its host is not the browser's.
"""
from __future__ import annotations

import glob
import json
import os
import time
from typing import Any

from taskscope.pool import registry

__all__ = ["find_server", "page_url"]

_CACHE_S = 30.0
_cache: tuple[float, dict[str, Any] | None] | None = None


def _running_servers() -> list[dict[str, Any]]:
    out = []
    for path in sorted(glob.glob(os.path.join(registry.runtime_dir(), "jpserver-*.json"))):
        try:
            with open(path, encoding="utf-8") as f:
                info = json.load(f)
        except (OSError, ValueError):
            continue
        pid = info.get("pid")
        if not isinstance(pid, int):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except OSError:
            pass
        out.append(info)
    return out


def find_server() -> dict[str, Any] | None:
    """The server this kernel most likely belongs to (cached for a few seconds)."""
    global _cache
    now = time.monotonic()
    if _cache is not None and now - _cache[0] < _CACHE_S:
        return _cache[1]
    servers = _running_servers()
    found = None
    parent = os.getppid()
    found = next((s for s in servers if s.get("pid") == parent), None)
    if found is None:
        cwd = os.path.realpath(os.getcwd())
        for s in servers:
            root = s.get("root_dir") or s.get("notebook_dir")
            if root and (cwd + os.sep).startswith(os.path.realpath(root).rstrip(os.sep) + os.sep):
                found = s
                break
    if found is None and servers:
        found = servers[0]
    # keep only what is needed: the server file also holds its token
    found = None if found is None else {k: found.get(k) for k in ("base_url", "url", "pid",
                                                                    "root_dir")}
    _cache = (now, found)
    return found


def page_url(pool_id: str, *, absolute: bool = False) -> str:
    """``{base_url}taskscope/pools/<id>``; with `absolute`, prefixed by the server's own URL
    (right on the server's machine, not necessarily through a proxy)."""
    server = find_server() or {}
    if absolute and server.get("url"):
        return str(server["url"]).rstrip("/") + "/" + f"taskscope/pools/{pool_id}"
    base = server.get("base_url") or "/"
    if not base.endswith("/"):
        base += "/"
    return f"{base}taskscope/pools/{pool_id}"
