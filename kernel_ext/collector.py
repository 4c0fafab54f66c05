"""The collector: the only kernel-side code that touches ZeroMQ.

::

    pool XPUB --signed batches--> Subscriber (verify, decode) --> State.apply
                                                                    |
        views (widgets, text bars) <-- push() at most PUSH_INTERVAL_S, only when changed

One collector per pool per process, on its own daemon thread, so views update while the
cell that runs the `map` is still blocking the kernel's main thread.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from taskscope.pool import subscribe

from .state import State

__all__ = ["Collector", "collector_for"]

log = logging.getLogger("taskscope")

PUSH_INTERVAL_S = 0.1  # ten view updates a second: smooth to the eye, cheap on the comm
LINGER_AFTER_CLOSE_S = 1.0  # keep listening briefly after "closed": the last batch may trail


class View(Protocol):
    def push(self, collector: Collector) -> None: ...


class Collector:
    """Subscribes to one pool's events and keeps its State; pushes changes to views."""

    def __init__(self, endpoint: str, key: bytes | str, name: str = "") -> None:
        self.state = State()
        self.lock = threading.RLock()  # guards `state` between this thread and views
        self._sub = subscribe(endpoint, key)
        self._views: list[View] = []
        self._stop = threading.Event()
        self._pushed_version = -1
        self.closed = threading.Event()  # set once the pool's final state is in
        self._thread = threading.Thread(target=self._run, name=f"taskscope-collector-{name}",
                                         daemon=True)
        self._thread.start()

    def add_view(self, view: View) -> None:
        with self.lock:
            self._views.append(view)
        self._push_one(view)

    def remove_view(self, view: View) -> None:
        with self.lock:
            if view in self._views:
                self._views.remove(view)

    @property
    def dropped(self) -> int:
        return self._sub.dropped

    def _run(self) -> None:
        closed_at: float | None = None
        last_push = 0.0
        try:
            while not self._stop.is_set():
                events = self._sub.recv(timeout=PUSH_INTERVAL_S / 2)
                if events:
                    with self.lock:
                        self.state.apply_all(events)
                        self.state.gaps = max(self.state.gaps, self._sub.gaps)
                now = time.monotonic()
                if now - last_push >= PUSH_INTERVAL_S:
                    last_push = now
                    self.push_all()
                if closed_at is None and self.state.pool["status"] == "closed":
                    closed_at = now
                if closed_at is not None and now - closed_at > LINGER_AFTER_CLOSE_S:
                    break
        except Exception:  # never raise into the user's kernel: log and stop
            log.exception("taskscope: the collector stopped")
        finally:
            self.push_all()
            self.closed.set()
            self._sub.close()

    def push_all(self) -> None:
        if self.state.version == self._pushed_version:
            return
        self._pushed_version = self.state.version
        with self.lock:
            views = list(self._views)
        for view in views:
            self._push_one(view)

    def _push_one(self, view: View) -> None:
        try:
            view.push(self)
        except Exception:
            log.exception("taskscope: a view failed to update")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


_collectors: dict[str, Collector] = {}
_collectors_lock = threading.Lock()


def collector_for(pool: Any) -> Collector:
    """The collector of a pool of this process (made on first use)."""
    with _collectors_lock:
        col = _collectors.get(pool.id)
        if col is None or (col.closed.is_set() and pool.status != "closed"):
            info = pool.connection_info()
            col = _collectors[pool.id] = Collector(info["events"], info["key"], pool.name)
        return col
