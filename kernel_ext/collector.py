"""The collector: the only kernel-side code that touches ZeroMQ.

::

    pool XPUB --signed batches--> Subscriber (verify, decode) --> State.apply
                                                                    |
        views (widgets, text bars) <-- push() at most every view.push_interval (default
                                       PUSH_INTERVAL_S), only when changed

One collector per pool per process, on its own daemon thread, so views update while the
cell that runs the `map` is still blocking the kernel's main thread.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from taskscope.pool import subscribe

from .state import State

__all__ = ["Collector", "collector_for"]

log = logging.getLogger("taskscope")

PUSH_INTERVAL_S = 0.1  # ten view updates a second: smooth to the eye, cheap on the comm
# The dashboard's state is several KB (workers, calls, functions): four updates a second.
DASHBOARD_PUSH_INTERVAL_S = 0.25
PUSH_SLACK_S = 0.01  # a view is due this much early (the loop wakes when one is due)
# With nothing to push, the loop sleeps until events come, waking this often only to notice
# stop(): an idle pool's collector costs next to nothing however long the notebook is open.
IDLE_WAIT_S = 0.5
FIRST_SNAPSHOT_WAIT_S = 1.0  # a new subscriber's join snapshot comes within milliseconds
# A cell's last events reach this thread within milliseconds of its map returning; a
# snapshot drawn at the end of the cell waits for them that long at most.
CATCH_UP_S = 0.25
LINGER_AFTER_CLOSE_S = 1.0  # keep listening briefly after "closed": the last batch may trail


class View(Protocol):
    """Anything with push(); an optional `push_interval` attribute (seconds) sets how often
    the collector pushes it at most (PUSH_INTERVAL_S when absent)."""

    def push(self, collector: Collector) -> None: ...


class Collector:
    """Subscribes to one pool's events and keeps its State; pushes changes to views."""

    def __init__(self, endpoint: str | None, key: bytes | str, name: str = "",
                 state: State | None = None) -> None:
        """With `endpoint` None, a finished pool's collector: `state` is final (built from
        its story, `finished_collector`), nothing is subscribed to."""
        self.state = state if state is not None else State()
        self.lock = threading.RLock()  # guards `state` between this thread and views
        self._changed = threading.Condition(self.lock)  # notified when events were applied
        # The State applies a `tasks` event whole (coalesce.py): not expanded here.
        self._sub = subscribe(endpoint, key, expand=False) if endpoint is not None else None
        self._views: list[View] = []
        self._stop = threading.Event()
        # id(view) -> (State.version pushed, monotonic time of that push)
        self._pushed: dict[int, tuple[int, float]] = {}
        self.closed = threading.Event()  # set once the pool's final state is in
        # The seq of the last event the pool sent (set by collector_for for a pool of this
        # process): what `catch_up` waits for.
        self.published: Callable[[], int] | None = None
        self._thread = threading.Thread(target=self._run, name=f"taskscope-collector-{name}",
                                         daemon=True)
        if self._sub is None:
            self.closed.set()
        else:
            self._thread.start()

    def add_view(self, view: View, pushed_version: int | None = None) -> None:
        """Start pushing `view`; at once, unless it already holds the State of
        `pushed_version` (then at the next change, like any view)."""
        with self.lock:
            self._views.append(view)
            if pushed_version is not None:
                self._pushed[id(view)] = (pushed_version, time.monotonic())
        if pushed_version is None:
            self._push_one(view)

    def remove_view(self, view: View) -> None:
        with self.lock:
            if view in self._views:
                self._views.remove(view)
            self._pushed.pop(id(view), None)

    @property
    def dropped(self) -> int:
        return self._sub.dropped if self._sub is not None else 0

    def _run(self) -> None:
        closed_at: float | None = None
        try:
            wait = IDLE_WAIT_S
            while not self._stop.is_set():
                events = self._sub.recv(timeout=wait)
                if events:
                    with self.lock:
                        self.state.apply_all(events)
                        self.state.gaps = max(self.state.gaps, self._sub.gaps)
                        self._changed.notify_all()
                now = time.monotonic()
                due_in = self.push_all(due_only=True)  # each view at its own rate
                wait = IDLE_WAIT_S if due_in is None else min(IDLE_WAIT_S, due_in)
                if closed_at is None and self.state.pool["status"] == "closed":
                    closed_at = now
                if closed_at is not None:
                    if now - closed_at > LINGER_AFTER_CLOSE_S:
                        break
                    wait = min(wait, LINGER_AFTER_CLOSE_S / 4)
        except Exception:  # never raise into the user's kernel: log and stop
            log.exception("taskscope: the collector stopped")
        finally:
            self.push_all()
            with self.lock:
                self.closed.set()
                self._changed.notify_all()
            self._sub.close()

    def wait_for(self, predicate: Callable[[State], bool], timeout: float) -> bool:
        """Block until `predicate(state)` holds (checked whenever events arrive) or the
        collector stopped or `timeout` passed; returns the predicate's last value."""
        with self._changed:
            self._changed.wait_for(lambda: predicate(self.state) or self.closed.is_set(),
                                   timeout)
            return predicate(self.state)

    def catch_up(self, timeout: float = CATCH_UP_S) -> bool:
        """Wait until the State holds every event the pool had sent when called (a cell's
        map returned, and its last events may still be on their way to this thread)."""
        published = self.published
        if published is None or self.closed.is_set():
            return True
        target = published()
        return self.wait_for(lambda st: st.seq >= target, timeout)

    def push_all(self, due_only: bool = False) -> float | None:
        """Push every view whose State changed since its last push; with `due_only`, only
        those whose own push interval has also passed. Returns the seconds until the next
        view with changes left unpushed is due, or None when there is none."""
        now = time.monotonic()
        due_in = None
        with self.lock:
            version = self.state.version
            views = []
            for view in self._views:
                pushed_version, pushed_at = self._pushed.get(id(view), (-1, 0.0))
                if pushed_version == version:
                    continue
                interval = getattr(view, "push_interval", PUSH_INTERVAL_S)
                if due_only and now - pushed_at < interval - PUSH_SLACK_S:
                    left = pushed_at + interval - now
                    due_in = left if due_in is None else min(due_in, left)
                    continue
                views.append(view)
        for view in views:
            self._push_one(view)
        return due_in

    def _push_one(self, view: View) -> None:
        with self.lock:
            self._pushed[id(view)] = (self.state.version, time.monotonic())
        try:
            view.push(self)
        except Exception:
            log.exception("taskscope: a view failed to update")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)


_collectors: dict[str, Collector] = {}
_collectors_lock = threading.Lock()


def collector_for(pool: Any, wait_first: bool = False) -> Collector:
    """The collector of a pool of this process (made on first use; with `wait_first`, a new
    one waits up to FIRST_SNAPSHOT_WAIT_S for its join snapshot)."""
    with _collectors_lock:
        col = _collectors.get(pool.id)
        if col is None and pool.status == "closed":
            # Nobody watched it and its events are gone: its story is in its driver.
            col = _collectors[pool.id] = finished_collector(pool)
        elif col is None or (col.closed.is_set() and pool.status != "closed"):
            info = pool.connection_info()
            col = _collectors[pool.id] = Collector(info["events"], info["key"], pool.name)
            publisher = getattr(getattr(pool, "_driver", None), "events", None)
            if publisher is not None and hasattr(publisher, "flushed_seq"):
                col.published = lambda: int(publisher.flushed_seq)
            # Its first event is the join snapshot with the story so far (pool/history.py):
            # wait for it, so that a dashboard displayed late draws the whole story at once.
            if wait_first:
                col.wait_for(lambda st: st.seq > 0, FIRST_SNAPSHOT_WAIT_S)
        return col


def finished_collector(pool: Any) -> Collector:
    """The collector of a closed pool nobody watched: its final State, built from the story
    its driver kept (pool/history.py), as a dashboard joining at the end would have it."""
    from .state_history import state_from_story

    state = state_from_story(pool._story(), time.monotonic())
    return Collector(None, b"", pool.name, state=state)
