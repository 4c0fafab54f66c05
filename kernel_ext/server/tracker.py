"""Server side of the registry: one Collector + State per pool, fanned out to websockets.

::

    registry files --scan every SCAN_INTERVAL_S (IOLoop)--> PoolTracker
        new entry  -> TrackedPool: Collector (the kernel's own class, its own thread) -> State
        file gone  -> pool kept (final state) for KEEP_FINISHED_S, at most MAX_FINISHED of them

    Collector thread --push()--> IOLoop.add_callback (coalesced) --> each PoolSocket.send_update

Everything that touches a websocket runs on the IOLoop thread; the collector thread only
schedules. The State is read under the collector's lock. Keys stay in this module: they are
handed to the Collector and dropped; nothing here logs an entry.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Protocol

from tornado.ioloop import IOLoop, PeriodicCallback

from taskscope.collector import Collector
from taskscope.pool import registry
from taskscope.pool._transport import pid_alive
from taskscope.pool.control import send_control

__all__ = ["PoolTracker", "TrackedPool"]

log = logging.getLogger("taskscope.server")

SCAN_INTERVAL_S = 1.0  # how soon a new pool shows up in the list
KEEP_FINISHED_S = 3600.0  # a finished pool's final state stays served this long...
MAX_FINISHED = 20  # ...for at most this many finished pools (each State holds its rings)
PUBLIC_FIELDS = ("id", "name", "pid", "origin", "kernel_id", "n_workers", "started",
                 "scheduler")  # scheduler: a watched Dask cluster's address (origin "dask")


class Socket(Protocol):
    def send_update(self, full: bool = False) -> None: ...
    def pool_gone(self, message: str) -> None: ...


class TrackedPool:
    """One pool seen in the registry: its collector, State and connected websockets."""

    def __init__(self, entry: dict[str, Any], loop: IOLoop) -> None:
        self.id: str = entry["id"]
        self.info = {k: entry.get(k) for k in PUBLIC_FIELDS}  # never the key
        self.live = True
        self.gone_at: float | None = None
        self.sockets: set[Socket] = set()
        self._loop = loop
        self._pending = False
        self._pending_lock = threading.Lock()
        self.collector = Collector(entry["events"], entry["key"], entry["name"])
        # Where and how to send controls (pool/control.py); the key stays in this object.
        self._control = (entry.get("control"), entry["key"])
        self.collector.add_view(self)

    # Collector view: called on the collector's thread (and once from add_view).
    def push(self, collector: Collector) -> None:
        with self._pending_lock:
            if self._pending:
                return
            self._pending = True
        self._loop.add_callback(self._flush)

    def _flush(self) -> None:  # IOLoop thread
        with self._pending_lock:
            self._pending = False
        for sock in list(self.sockets):
            sock.send_update()

    @property
    def status(self) -> str:
        with self.collector.lock:
            return str(self.collector.state.pool.get("status") or "starting")

    def mark_gone(self) -> None:
        if self.live:
            self.live = False
            self.gone_at = time.monotonic()

    def check_orphaned(self) -> None:
        """The registry file is gone; if the pool's process died without closing the pool,
        stop listening and show the pool as broken (its last state stays)."""
        pid = self.info.get("pid")
        if self.collector.closed.is_set() or (isinstance(pid, int) and pid_alive(pid)):
            return
        self.collector.stop()
        with self.collector.lock:
            st = self.collector.state
            if st.pool.get("status") != "closed":
                st.pool["status"] = "broken"
                st.version += 1
        self.push(self.collector)

    def summary(self) -> dict[str, Any]:
        """What the REST list and the sidebar show (no key, no tracebacks)."""
        with self.collector.lock:
            st = self.collector.state
            pool = dict(st.pool)
            totals = dict(st.totals)
            workers = [w for w in st.workers.values() if w["status"] not in ("exited", "died")]
            calls = []
            total: int | None = 0
            for c in st.calls.values():
                counts = c["counts"]
                done = counts["released"] + counts["memory"] + counts["erred"] + counts["cancelled"]
                calls.append({"id": c["id"], "fn": c["fn"], "api": c["api"], "status": c["status"],
                              "done": done, "total": c["total"], "rate": c["rate"]})
            running = [c for c in calls if c["status"] == "running"]
            for c in running:
                if c["total"] is None or total is None:
                    total = None
                else:
                    total += c["total"]
            done_running = sum(c["done"] for c in running)
        finished = totals["done"] + totals["erred"] + totals["cancelled"]
        fraction = None
        if running and total:
            fraction = min(1.0, done_running / total)
        elif not running and totals["submitted"]:
            fraction = min(1.0, finished / totals["submitted"])
        return {
            **self.info,
            "name": pool.get("name") or self.info["name"],
            "status": pool.get("status"),
            "live": self.live,
            "profile": bool(pool.get("profile")),  # a profiling pool: the sidebar offers its pane
            "workers": len(workers),
            "progress": {**totals, "finished": finished, "fraction": fraction,
                         "calls_running": len(running), "running_done": done_running,
                         "running_total": total if running else 0},
            "calls": calls[-5:],
        }

    def cancel_call(self, call_id: int) -> bool:
        """Ask the pool to cancel one call (its queued work; running tasks finish).
        False when the pool is gone or cannot take controls."""
        endpoint, key = self._control
        if not self.live or not endpoint:
            return False
        send_control(endpoint, key, "cancel_call", call=call_id)
        return True

    def close(self, message: str) -> None:
        self.collector.remove_view(self)
        self.collector.stop()
        for sock in list(self.sockets):
            sock.pool_gone(message)
        self.sockets.clear()


class PoolTracker:
    """Keeps a TrackedPool for every pool in the registry (and recently finished ones)."""

    def __init__(self, loop: IOLoop, runtime_dir: str | None = None) -> None:
        self.loop = loop
        self.runtime_dir = runtime_dir
        self.pools: dict[str, TrackedPool] = {}
        self._timer: PeriodicCallback | None = None

    def start(self) -> None:
        if self._timer is None:
            self._timer = PeriodicCallback(self.scan, SCAN_INTERVAL_S * 1000)
            self._timer.start()
            self.loop.add_callback(self.scan)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        for tp in list(self.pools.values()):
            tp.close("the Jupyter server is shutting down")
        self.pools.clear()

    def scan(self) -> None:
        """Sync with the registry (IOLoop thread; a few small file reads)."""
        try:
            entries = registry.list_pools(self.runtime_dir, prune=True)
        except Exception:
            log.exception("taskscope: could not read the pool registry")
            return
        seen = set()
        for entry in entries:
            seen.add(entry["id"])
            if entry["id"] not in self.pools:
                try:
                    self.pools[entry["id"]] = TrackedPool(entry, self.loop)
                except Exception:
                    log.exception("taskscope: could not follow pool %s", entry["id"])
        now = time.monotonic()
        for tp in list(self.pools.values()):
            if tp.id in seen:
                continue
            tp.mark_gone()
            tp.check_orphaned()
        finished = sorted((tp for tp in self.pools.values() if not tp.live),
                          key=lambda tp: tp.gone_at or 0.0)
        for i, tp in enumerate(finished):
            if len(finished) - i > MAX_FINISHED or now - (tp.gone_at or now) > KEEP_FINISHED_S:
                tp.close("this pool finished long ago; its final state is no longer kept")
                del self.pools[tp.id]

    def get(self, pool_id: str) -> TrackedPool | None:
        tp = self.pools.get(pool_id)
        if tp is None:
            self.scan()  # it may have started since the last scan
            tp = self.pools.get(pool_id)
        return tp

    def list(self, include_finished: bool = False) -> list[dict[str, Any]]:
        return [tp.summary() for tp in self.pools.values() if tp.live or include_finished]


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    """Compact JSON that browsers can parse (NaN and infinities become null)."""
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=str)
    except ValueError:
        return json.dumps(_finite(obj), separators=(",", ":"), allow_nan=False, default=str)
