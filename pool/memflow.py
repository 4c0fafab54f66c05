"""Where the bytes of kept results are, per function, and when they move between workers.

A part of the driver (one `MemFlow` per driver, fed from the task graph on the driver
thread only)::

    graph_task_done (kept on w) ---- hold(w, task) ----.
    send_tasks (w gets a copy)  ---- hold(w, dep)  ----+--> held[w][function] = [bytes, results]
    release_data (on w)         ---- unhold(w, task) --'        |
    results_lost (w died)       ---- forget(w)                  '--> worker.samples `held` (1.4)

    send_fetch (ask holder h)   ---- fetch_sent(task, h) ----.
    handle_data (h answered)    ---- fetch_done(task, ...) ---+--> task.stream record on the
                                                                   receiving worker's lane,
                                                                   flags TRANSFER | BYTES (1.4)

The per-function rows change exactly where the driver's own `WorkerRecord.managed` does, so
over a worker they add up to the managed bytes the same sample carries. Their size is bounded
by workers x functions holding results, never by the number of tasks.
"""
from __future__ import annotations

import time
from typing import Any

__all__ = ["FLAG_BYTES", "FLAG_TRANSFER", "MemFlow", "function_key"]

# Task-stream flags (docs/state.md): bit 2 marks a transfer bar (as for a watched Dask
# cluster); bit 5 says its `count` holds the bytes moved rather than a number of tasks.
FLAG_TRANSFER = 4
FLAG_BYTES = 32


def function_key(task: Any) -> str:
    """The State's key of a task's function: "module.name", as `call.started` gives it.
    Kept on the call (its info does not change): asked twice per submitted task."""
    call = task.call
    key = call.__dict__.get("fn_key")
    if key is None:
        info = call.info
        key = call.fn_key = f"{info.get('module', '')}.{info.get('fn', '')}"
    return key  # type: ignore[no-any-return]


class MemFlow:
    """Bytes held per worker and function, and the fetches in flight (see the module doc)."""

    def __init__(self) -> None:
        self.held: dict[int, dict[str, list[int]]] = {}  # worker -> key -> [bytes, results]
        self._fetching: dict[int, tuple[float, int]] = {}  # task -> (sent at, holder)
        self._dirty = False  # rows changed since the last sample (one empty sample clears)

    # ---------------------------------------------------------------- memory by function
    def hold(self, wid: int, task: Any) -> None:
        row = self.held.setdefault(wid, {}).setdefault(function_key(task), [0, 0])
        row[0] += int(task.nbytes)
        row[1] += 1
        self._dirty = True

    def unhold(self, wid: int, task: Any) -> None:
        rows = self.held.get(wid)
        key = function_key(task)
        row = rows.get(key) if rows else None
        if row is None:
            return
        row[0] -= int(task.nbytes)
        row[1] -= 1
        if row[1] <= 0:
            del rows[key]  # type: ignore[union-attr]
            if not rows:
                del self.held[wid]
        self._dirty = True

    def forget(self, wid: int) -> None:
        """Worker `wid` is gone: so is every result it held."""
        if self.held.pop(wid, None):
            self._dirty = True

    def sample_rows(self, live: set[int]) -> list[list[Any]] | None:
        """`[[worker, function key, bytes, results], ...]` for the next `worker.samples`, or
        None when nothing is held and nothing was since the last sample (the field is then
        left out: a pool that never keeps a result sends none)."""
        if not self._dirty and not self.held:
            return None
        self._dirty = False
        return [[wid, key, row[0], row[1]] for wid, rows in self.held.items() if wid in live
                for key, row in rows.items()]

    # ---------------------------------------------------------------- transfers
    def fetch_sent(self, task_id: int, holder: int) -> None:
        self._fetching[task_id] = (time.monotonic(), holder)

    def fetch_done(self, task_id: int, nbytes: int, receivers: list[tuple[int, int]],
                   ) -> list[list[float]]:
        """The fetch of `task_id` was answered: one task-stream record per receiving worker
        (`receivers`: (worker, the waiting dependent's call)), from the moment the holder was
        asked to the moment its bytes arrived here to be relayed."""
        sent = self._fetching.pop(task_id, None)
        if sent is None:
            return []
        t0, _holder = sent
        t1 = time.monotonic()
        flags = float(FLAG_TRANSFER | FLAG_BYTES)
        return [[t0, t1, float(wid), float(call), float(nbytes), flags]
                for wid, call in dict(receivers).items()]

    def fetch_dropped(self, task_id: int) -> None:
        self._fetching.pop(task_id, None)
