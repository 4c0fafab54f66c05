"""Offline reports: one self-contained HTML file of pools' stories (Dask's performance_report).

::

    pool._story()  (snapshot body + History, pool/history.py)
        --(window: only what happened inside a `with report(...)` block)-->
    State().apply(snapshot)   the same reducer a late-joining dashboard uses (state_history.py)
        --> State JSON + rings (columns, byte-shuffled, deflated, base64)
        --> report.html: static/report.js + widget.css inlined, the data in a JSON script tag

The file draws the same panes as the widget and the pop-out page (js/src/report.js), opens
from file:// with no network and no server, and keeps every task-stream record the pool kept
(up to 100,000: ~1-2 MB). No Jupyter imports: a plain script can write one.
"""
from __future__ import annotations

import array
import base64
import datetime
import html
import json
import os
import pathlib
import threading
import time
import zlib
from typing import Any

from taskscope.pool import _hooks

from .state_history import state_from_story

__all__ = ["Report", "report", "write_report"]

STATIC = pathlib.Path(__file__).parent / "static"
REPORT_JS = STATIC / "report.js"
REPORT_CSS = STATIC / "widget.css"
ZLIB_LEVEL = 6  # level 9 saves ~2% more for several times the time


def _check_writable(path: pathlib.Path) -> None:
    """Refuse, before any work, a path a report cannot be written to; the error names it."""
    if path.is_dir():
        raise IsADirectoryError(f"taskscope: cannot write the report to {str(path)!r}: it is a "
                                "directory; give a file name, e.g. "
                                f"{str(path / 'report.html')!r}")
    parent = path.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"taskscope: cannot write the report to {str(path)!r}: the "
                                f"directory {str(parent)!r} does not exist; create it first")
    target = path if path.exists() else parent
    if not os.access(target, os.W_OK):
        raise PermissionError(f"taskscope: cannot write the report to {str(path)!r}: "
                              f"{'the file' if path.exists() else 'its directory'} is not "
                              "writable by this user; choose another path")


def _pack_ring(first: int, raw: bytes, width: int) -> dict[str, Any]:
    """Records as columns, each byte-shuffled, deflated, in base64 (js/src/report.js)."""
    recs = array.array("d")
    recs.frombytes(raw)
    n = len(recs) // width
    parts = []
    for f in range(width):
        col = recs[f::width].tobytes()
        parts.extend(col[b::8] for b in range(8))  # the bytes of equal weight together
    data = base64.b64encode(zlib.compress(b"".join(parts), ZLIB_LEVEL)).decode("ascii")
    return {"first": first, "n": n, "width": width, "data": data}


def _window(body: dict[str, Any], marks: dict[str, Any]) -> dict[str, Any]:
    """Cut a story to what happened after `marks` (a story without rings taken earlier):
    a `with report(...)` block reports its own work, not the pool's earlier calls."""
    h = body["history"]
    since_call = marks["max_call"]
    before = {c["call"]: c for c in marks["calls"]}
    calls = []
    for c in body["calls"]:
        old = before.get(c["call"])
        if c["call"] > since_call:
            calls.append(c)
        elif old is not None and (old["status"] == "running" or old["submitted"] != c["submitted"]):
            calls.append({**c, **{k: c[k] - old[k] for k in ("submitted", "done", "erred",
                                                              "cancelled")},
                          "total": None if c["total"] is None else c["total"] - old["submitted"]})
    body = {**body, "calls": calls}
    old_fns = {f["key"]: f for f in marks["history"]["functions"]}
    fns = []
    for f in h["functions"]:
        old = old_fns.get(f["key"])
        if old is not None:
            f = {**f, **{k: f[k] - old[k] for k in ("submitted", "done", "erred", "cancelled",
                                                    "time")}}
        if f["submitted"] or f["processing"] or f["waiting"]:
            fns.append(f)
    h = {**h, "functions": fns,
         "totals": {k: v - marks["history"]["totals"].get(k, 0) for k, v in h["totals"].items()}}
    for name, width in (("stream", 6), ("resources", 5)):
        first, mark = h[f"{name}_first"], marks["history"][f"{name}_total"]
        if mark > first:
            h[name] = h[name][(mark - first) * 8 * width:]
        # Numbered from the block's start: the report holds the block's records only.
        h[f"{name}_first"], h[f"{name}_total"] = 0, len(h[name]) // (8 * width)
    errors_mark = marks["history"]["errors_total"]
    h["errors"] = [e for e in h["errors"] if e["id"] > errors_mark]
    if isinstance(h.get("profile"), dict):  # stack samples of the block's calls only (1.4)
        h["profile"] = {**h["profile"], "profiles": [p for p in h["profile"]["profiles"]
                                                     if p["call"] > since_call]}
    return {**body, "history": h}


def _marks(story: dict[str, Any]) -> dict[str, Any]:
    return {**story, "max_call": max((c["call"] for c in story["calls"]), default=0)}


def pool_data(pool: Any, marks: dict[str, Any] | None = None) -> dict[str, Any]:
    """One pool's part of a report: its State (as a late-joining dashboard builds it) and
    its rings. Works for a live pool and for a closed one (its driver keeps the story)."""
    body = pool._story()
    if marks is not None:
        body = _window(body, marks)
    state = state_from_story(body, time.monotonic())
    data = state.to_json()
    if marks is None:
        _watched_graph(pool, data)
    return {"state": data,
            "stream": _pack_ring(*state.stream.since(0), width=state.stream.width),
            "resources": _pack_ring(*state.resources.since(0), width=state.resources.width)}


def _watched_graph(pool: Any, data: dict[str, Any]) -> None:
    """The task graph as this kernel's dashboard collected it, node by node: the driver's
    story keeps counts only, from which a State has the task groups alone."""
    from .collector import _collectors, _collectors_lock

    with _collectors_lock:
        col = _collectors.get(pool.id)
    if col is not None:
        with col.lock:
            graph = col.state.graph.to_json()
        if graph is not None and not graph["late"]:
            data["graph"] = graph


def _json_for_script(obj: Any) -> str:
    """JSON safe inside a <script> element: no "</script>" or "<!--" can end it early."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>{css}</style>
<style>html,body{{margin:0;padding:0}} #taskscope{{padding:8px 12px}}
.ts-report-head{{font:13px system-ui,sans-serif;padding:10px 12px 0;color:#555}}
.ts-report-pool{{margin-bottom:18px}}
.ts-root[data-report] [data-action=freeze]{{display:none}}</style>
</head><body>
<div class="ts-report-head">taskscope report · {subtitle}</div>
<div id="taskscope"></div>
<script type="application/json" id="taskscope-report">{data}</script>
<script type="module">{js}</script>
</body></html>
"""


def write_report(path: str | os.PathLike[str], pools: list[Any],
                 marks: dict[str, dict[str, Any]] | None = None) -> pathlib.Path:
    """Write one HTML file with the dashboards of `pools`; returns its path.

    `marks` (pool id -> an earlier story without rings) cuts each pool to what happened
    since (the `report` context manager)."""
    target = pathlib.Path(os.fspath(path)).expanduser()
    _check_writable(target)
    try:
        js = REPORT_JS.read_text(encoding="utf-8")
        css = REPORT_CSS.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuntimeError(f"taskscope: the report's front end ({exc.filename}) is missing: "
                           "this taskscope was installed without its built JS; reinstall it "
                           "(pip install taskscope, or bash scripts/setup.sh in a checkout)") from None
    data = {"v": 1, "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "pools": [pool_data(p, (marks or {}).get(p.id)) for p in pools]}
    names = ", ".join(p.name for p in pools) or "no pools"
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    page = PAGE.format(title=html.escape(f"{names} · taskscope report"), css=css,
                       subtitle=html.escape(f"{names} · written {when}"),
                       data=_json_for_script(data), js=js.replace("</script", "<\\/script"))
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise type(exc)(f"taskscope: cannot write the report to {str(target)!r}: "
                        f"{exc.strerror or exc}; choose another path") from None
    return target


class Report:
    """``with taskscope.report("run.html"):`` — every pool used in the block, in one file.

    Pools that exist when the block starts are reported from that moment on (their earlier
    calls are left out); pools created inside the block from their start. Pools neither
    created nor used in the block are left out. The file is written when the block ends,
    also when it raises (the report of a failed run is the one you want); the path is checked
    when it starts, so a typo fails before the work, not after it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(os.fspath(path)).expanduser()
        self.pools: dict[str, Any] = {}  # id -> pool (strong refs: closed pools are reported)
        self._marks: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.written: pathlib.Path | None = None

    def _created(self, pool: Any) -> None:
        with self._lock:
            self.pools.setdefault(pool.id, pool)

    def __enter__(self) -> Report:
        from taskscope.pool.pool import _live_pools

        _check_writable(self.path)
        for pool in list(_live_pools):
            if pool.status == "closed":
                continue
            try:
                self._marks[pool.id] = _marks(pool._story(rings=False))
            except Exception:
                continue  # it is shutting down: it cannot be used in the block anyway
            self.pools[pool.id] = pool
        _hooks.add("pool_created", self._created)
        return self

    def _used(self, pool: Any) -> bool:
        marks = self._marks.get(pool.id)
        if marks is None:
            return True  # created in the block
        now = pool._story(rings=False)
        return (now["history"]["stream_total"] != marks["history"]["stream_total"]
                or now["history"]["totals"] != marks["history"]["totals"]
                or _marks(now)["max_call"] != marks["max_call"])

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        _hooks.remove("pool_created", self._created)
        with self._lock:
            pools = [p for p in self.pools.values() if self._used(p)]
        try:
            self.written = write_report(self.path, pools, self._marks)
        except Exception as err:
            if exc_type is None:
                raise
            import warnings  # the block's own error matters more: do not hide it

            warnings.warn(f"taskscope: the report was not written: {err}", RuntimeWarning,
                          stacklevel=2)


def report(path: str | os.PathLike[str]) -> Report:
    """A context manager that writes one HTML report of every pool used in its block.

    >>> with taskscope.report("run.html"):          # doctest: +SKIP
    ...     with Pool() as pool:
    ...         pool.map(f, items)
    """
    return Report(path)
