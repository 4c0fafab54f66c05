"""A late joiner's reducer: adopt the ``history`` of a snapshot into a State.

A State that watched from the start built all of this from events; one that joined later
(a dashboard displayed after the work, a pop-out page opened later, a server started after
the pool, a report of a pool) gets it from the driver's History (pool/history.py) in its
join snapshot. Each part is adopted only when the State is behind it (it missed records),
so a watcher from the start, which also receives every later join snapshot, keeps its own.
Pure: no IO, like state.py.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from .state import COUNT_KEYS, _error_entry
from .state_memflow import adopt_held

if TYPE_CHECKING:
    from .state import State

__all__ = ["adopt_history", "state_from_story"]


def state_from_story(body: dict[str, Any], now: float) -> State:
    """A State built from one history snapshot body (``pool._story()``) alone: what a
    dashboard that joins now would show; `now` is its clock (the pool's close time, once
    closed). For a pool no subscriber can join any more: it is closed."""
    from taskscope.pool.protocol import Event

    from .state import State

    st = State()
    closed = (body.get("history") or {}).get("closed_at")
    st.apply(Event(kind="snapshot", seq=1, src="driver", body=body,
                   ts=closed if closed is not None else now))
    return st


def adopt_history(st: State, h: dict[str, Any]) -> None:
    """Bring `st` up to the story told by a snapshot's ``history`` (docs/protocol.md)."""
    colors = h.get("colors") or {}
    for key, index in colors.items():  # the driver's palette: the order a watcher has
        st._colors.setdefault(key, int(index))
    _adopt_functions(st, h.get("functions") or [])
    _adopt_workers(st, h.get("workers") or [])
    if int(h.get("errors_total") or 0) > st.errors_total:
        st.errors = deque((_error_entry(int(e["id"]), float(e["ts"]), e, str(e.get("fn", "")))
                           for e in h.get("errors") or []), maxlen=st.errors.maxlen)
        st.errors_total = int(h["errors_total"])
        st.errors_version += 1
    for name in ("stream", "resources"):
        ring = getattr(st, name)
        raw = h.get(name)
        if isinstance(raw, (bytes, bytearray)) and int(h.get(f"{name}_total") or 0) > ring.total:
            ring.load(int(h.get(f"{name}_first") or 0), bytes(raw))
    last = h.get("last_sample")
    if st._last_sample is None and isinstance(last, list) and len(last) == 2:
        st._last_sample = (float(last[0]), int(last[1]))
    for key, value in (h.get("totals") or {}).items():
        if key in st.totals:
            st.totals[key] = max(st.totals[key], int(value))
    if isinstance(h.get("held"), list):  # bytes held per function (1.4): until a sample
        adopt_held(st, h["held"])
    if h.get("closed_at") is not None and st.pool.get("ended") is None:
        st.pool["ended"] = h["closed_at"]


def _adopt_functions(st: State, rows: list[dict[str, Any]]) -> None:
    """The driver's per-function counts (all its calls, also those no dashboard keeps)."""
    for r in rows:
        key = r["key"]
        f = st.functions.get(key)
        if f is None:
            f = st.functions[key] = {"key": key, "name": r["name"], "color": r["color"],
                                     "counts": dict.fromkeys(COUNT_KEYS, 0), "submitted": 0,
                                     "time": 0.0}
        elif f["submitted"] > r["submitted"]:
            continue  # this State is ahead (it saw events after the snapshot was made)
        done, memory = int(r["done"]), min(int(r["memory"]), int(r["done"]))
        f["counts"].update(processing=int(r["processing"]), erred=int(r["erred"]),
                           cancelled=int(r["cancelled"]), memory=memory, released=done - memory,
                           waiting=int(r["waiting"]))
        f["counts"]["queued"] = max(0, int(r["submitted"]) - int(r["processing"]) - done
                                    - int(r["erred"]) - int(r["cancelled"]) - int(r["waiting"]))
        f.update(submitted=int(r["submitted"]), time=max(f["time"], float(r["time"])))
    # Newest last, at most as many as a watcher keeps.
    from .state import MAX_FUNCTIONS

    order = sorted(st.functions, key=lambda k: st._colors.get(k, 1 << 30))
    for k in order[: max(0, len(order) - MAX_FUNCTIONS)]:
        del st.functions[k]
    for k in order[-MAX_FUNCTIONS:]:
        st.functions.move_to_end(k)


def _adopt_workers(st: State, rows: list[dict[str, Any]]) -> None:
    """Rows of workers the State never saw (exited before it joined), and what the
    snapshot's short worker summaries lack (samples, longest tasks, exit details)."""
    for r in rows:
        known = r["id"] in st.workers
        w = st._worker(r["id"])
        if not known or w["started"] is None:
            w.update(pid=r["pid"], started=r["started"], tasks_done=max(w["tasks_done"],
                                                                         r["tasks_done"]))
        if not w["longest"]:
            w["longest"] = list(r["longest"])
        if not known:
            w.update(cpu=r["cpu"], rss=r["rss"], managed=r["managed"])
            w["insights"].update(r["insights"])
        if r["ended"] is not None and w["ended"] is None:
            w.update(status=r["status"], ended=r["ended"], exitcode=r["exitcode"],
                     signal=r["signal"], cause=r["cause"], exit_message=r["exit_message"],
                     current=None, inflight=0, cpu=0.0)
        elif not known and r["status"] != "starting":
            w["status"] = r["status"]
