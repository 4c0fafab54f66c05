"""A ``tasks`` event (per-task events folded at the source, protocol 1.2) applied whole.

The State's per-record handlers (state.py: `_on_task_processing`, ...) cost the collector
more than the tasks: a ``tasks`` event of a map with ``chunksize=1`` holds hundreds of
records of one call and worker, and expanding each into a body and applying it looked up
the same call, function row and worker every time. Here the counts are summed and bumped
once, the worker updated once, and only what is kept per task (the task-stream record, the
open-task table, the graph pane's nodes) is written per record.

The result is the State the per-record handlers give, exactly: a count bumped by the sum
of several decrements clamps at zero as the decrements one by one do; the rate window,
whose timestamp is the event's for every record, is updated after the first record (which
is when the per-record handlers add a window entry) and again at the end. Anything not of
this plain shape (erred, requeued, a task going back, columns of the wrong length, the
first task a grouped graph pane may draw alone) is left to the per-record handlers: `apply`
returns False.
"""
from __future__ import annotations

from typing import Any

from . import state_memflow as memflow

__all__ = ["apply"]


def apply(state: Any, ts: float, b: dict[str, Any]) -> bool:
    """Apply the ``tasks`` body `b` to `state` whole; False if it is not of a plain shape
    handled here (the caller then applies its records one by one)."""
    tasks, ns = b.get("tasks"), b.get("n")
    if not (isinstance(tasks, list) and isinstance(ns, list) and len(tasks) == len(ns) and ns):
        return False
    of, call_id = b.get("of"), b.get("call")
    call = state.calls.get(call_id)
    if of == "task.processing":
        return _processing(state, ts, call, b, tasks, ns)
    if of == "task.finished":
        return _finished(state, ts, call, b, tasks, ns)
    if of == "task.released":
        return _released(state, call, b, tasks, ns)
    if of == "task.queued" and call is not None:
        return _queued(state, call, call_id, tasks, ns)
    return False


def _queued(state: Any, call: dict[str, Any], call_id: int, tasks: list[int],
            ns: list[int]) -> bool:
    graph = state.graph
    is_graph = call_id in graph.graph_calls
    # A graph pane drawing task groups (too many live tasks) reads the live count as each
    # task arrives, and draws single tasks again at the first one that finds itself alone:
    # the counts of the whole event first give the same answer unless the first record can
    # be alone (no live task before it), which is left to the per-record handlers.
    if is_graph and graph.grouped and graph.live_tasks() + ns[0] <= 1:
        return False
    total = sum(ns)
    state._bump(call_id, "queued", total)
    state._count_submitted(call, total)
    if is_graph:
        graph.added_plain(call_id, tasks, "queued")
    return True


def _processing(state: Any, ts: float, call: dict[str, Any] | None, b: dict[str, Any],
                tasks: list[int], ns: list[int]) -> bool:
    wid, call_id = b.get("worker"), b["call"]
    if not isinstance(wid, int):
        return False
    total = sum(ns)
    state._bump(call_id, "queued", -total)
    state._bump(call_id, "processing", total)
    processing = state._processing
    for task, n in zip(tasks, ns):
        processing[task] = (call_id, wid, n)
    w = state._worker(wid)
    memflow.mark_busy(w, ts)
    w["inflight"] += len(tasks)
    w["status"] = "busy"
    w["current"] = call["fn"] if call else w["current"]
    state.graph.moved_plain(call_id, tasks, "processing", wid)
    return True


def _finished(state: Any, ts: float, call: dict[str, Any] | None, b: dict[str, Any],
              tasks: list[int], ns: list[int]) -> bool:
    starts, ends, longest = b.get("start"), b.get("end"), b.get("longest")
    k = len(tasks)
    if b.get("n_erred") or b.get("was") != "processing" or not all(
            isinstance(c, list) and len(c) == k for c in (starts, ends, longest)):
        return False
    call_id, wid = b["call"], b.get("worker")
    if k > 1 and call is not None:
        # The first record alone, so the rate window gets the entry the per-record
        # handlers would give it (see the module docstring).
        first = {f: b.get(f) for f in ("call", "worker", "state", "was", "n_erred",
                                        "insights")}
        first.update(task=tasks[0], n=ns[0], start=starts[0], end=ends[0],
                     nbytes=(b.get("nbytes") or [0])[0], longest=longest[0])
        state._on_task_finished(ts, first)
        tasks, ns, starts, ends, longest = tasks[1:], ns[1:], starts[1:], ends[1:], longest[1:]
    processing = state._processing
    known = 0
    from_processing = from_queued = 0
    left = call["counts"]["processing"] if call is not None else 0
    for task, n in zip(tasks, ns):
        if processing.pop(task, None) is not None:
            known += 1
        elif call is None or left < n:
            from_queued += n
            continue
        from_processing += n
        left = max(0, left - n)
    total = sum(ns)
    state._bump(call_id, "processing", -from_processing)
    if from_queued:
        state._bump(call_id, "queued", -from_queued)
    state._bump(call_id, "memory" if b.get("state") == "memory" else "released", total)
    state.totals["done"] += total
    color = -1
    if call is not None:
        color = call["color"]
        fn = state.functions.get(call["_fkey"])
        if fn is not None:
            fn["time"] += sum(max(0.0, e - s) for s, e in zip(starts, ends))
        state._update_rate(call, ts)
        state._settle_submits(call, ts)
    if wid is not None and wid >= 0:
        w = state._worker(wid)
        w["tasks_done"] += total
        w["inflight"] = max(0, w["inflight"] - known)
        if w["inflight"] == 0 and w["status"] == "busy":
            w["status"], w["current"] = "idle", None
        memflow.mark_finished(w, ends[-1])
        insights = b.get("insights") or {}
        if insights:
            w["insights"].update(insights)
        state._keep_longest(w, call, longest)
    state.graph.finished_plain(call_id, tasks, b, starts, ends, longest)
    lane = float(wid if wid is not None else -1)
    records: list[float] = []
    color = float(color)
    for start, end, n in zip(starts, ends, ns):
        records += (start, end, lane, color, float(n), 0.0)
    state.stream.extend(records)
    return True


def _released(state: Any, call: dict[str, Any] | None, b: dict[str, Any], tasks: list[int],
              ns: list[int]) -> bool:
    call_id = b["call"]
    if call is not None:
        memory, moved = call["counts"]["memory"], 0
        for n in ns:  # (each only if the memory count holds it, as _on_task_released)
            if memory >= n:
                memory -= n
                moved += n
        if moved:
            state._bump(call_id, "memory", -moved)
            state._bump(call_id, "released", moved)
    state.graph.moved_plain(call_id, tasks, "released")
    return True

