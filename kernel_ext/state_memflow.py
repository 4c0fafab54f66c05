"""Memory by function and the moments workers get busy: the State's part for #14's items 3-5.

Pure reducers (no IO), called from `State`'s handlers:

    worker.samples `held` (1.4)  [[worker, function key, bytes, results], ...]
        -> held[worker][key] = (bytes, results)   replaced per sampled worker
        -> to_json()["memory_by_function"]: one row per function, largest first
    worker.info `held` (a watched Dask cluster: bytes in memory per task prefix)
        -> the same rows, on worker -1 (the cluster as a whole)

    task.processing / task.finished -> worker["busy_since"]: when its current run of work
        began, so the saturation plot (js/src/saturation.js) can draw the task still running,
        which the task stream only gets once it ends.

Bounded by workers x functions held (at most MAX_FUNCTIONS rows in the JSON).
"""
from __future__ import annotations

from typing import Any

__all__ = ["MAX_MEMORY_FUNCTIONS", "adopt_held", "apply_held", "forget_worker", "mark_busy", "mark_finished",
           "memory_by_function"]

MAX_MEMORY_FUNCTIONS = 50  # rows the pane lists (as many as function rows are kept)
CLUSTER = -1  # a source that knows the bytes per function but not per worker


def _held(state: Any) -> dict[int, dict[str, tuple[int, int]]]:
    held = getattr(state, "_held", None)
    if held is None:
        held = state._held = {}
    return held  # type: ignore[no-any-return]


def apply_held(state: Any, sampled: list[int], rows: list[list[Any]]) -> None:
    """A sample's per-function rows replace what the sampled workers held before."""
    held = _held(state)
    for wid in sampled:
        held.pop(wid, None)
    for row in rows:
        try:
            wid, key, nbytes, count = int(row[0]), str(row[1]), int(row[2]), int(row[3])
        except (TypeError, ValueError, IndexError):
            continue  # a malformed row (a newer or hostile source): skipped, not raised
        if nbytes > 0 or count > 0:
            held.setdefault(wid, {})[key] = (max(0, nbytes), max(0, count))


def adopt_held(state: Any, rows: list[list[Any]]) -> None:
    """A late joiner's rows from the driver's story, unless it has sampled its own."""
    if not _held(state):
        apply_held(state, [], rows)


def forget_worker(state: Any, wid: int) -> None:
    """A worker that exited holds nothing any more (its results went with it)."""
    _held(state).pop(wid, None)
    w = state.workers.get(wid)
    if w is not None and "busy_since" in w:
        w["busy_since"] = None


def memory_by_function(state: Any) -> list[dict[str, Any]]:
    """`[{key, name, color, bytes, results, workers: {id: bytes}}]`, most bytes first."""
    rows: dict[str, dict[str, Any]] = {}
    for wid, held in _held(state).items():
        for key, (nbytes, count) in held.items():
            row = rows.get(key)
            if row is None:
                fn = state.functions.get(key)
                row = rows[key] = {"key": key, "name": fn["name"] if fn else key.rpartition(".")[2],
                                   "color": fn["color"] if fn else state._colors.get(key, -1),
                                   "bytes": 0, "results": 0, "workers": {}}
            row["bytes"] += nbytes
            row["results"] += count
            row["workers"][str(wid)] = row["workers"].get(str(wid), 0) + nbytes
    return sorted(rows.values(), key=lambda r: (-r["bytes"], r["key"]))[:MAX_MEMORY_FUNCTIONS]


def mark_busy(w: dict[str, Any], ts: float) -> None:
    """Work was sent to an idle worker: its busy run starts now."""
    if not w["inflight"] or w.get("busy_since") is None:
        w["busy_since"] = round(ts, 3)


def mark_finished(w: dict[str, Any], end: float) -> None:
    """A task ended: the worker's next task (if it has one) starts about then."""
    w["busy_since"] = round(end, 3) if w["inflight"] else None
