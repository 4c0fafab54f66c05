"""The driver's History (pool/history.py) keeps the same records whether a message's clean
task.finished events reach it one by one or as the columns of one `tasks` event, as the
driver now publishes them (EventPublisher.emit_tasks)."""
from __future__ import annotations

import random
from typing import Any

import pytest

from taskscope.pool.history import History


def _fed(per_message: bool) -> History:
    rng = random.Random(11)
    h = History()
    h.observe("call.started", 0.0, {"call": 1, "api": "submit", "fn": "f", "module": "m"})
    for wid in (0, 1):
        h.observe("worker.started", 0.0, {"worker": wid, "pid": 100 + wid})
    task = 0
    for message in range(40):
        wid = message % 2
        recs: list[dict[str, Any]] = []
        for _ in range(rng.randint(1, 9)):
            task += 1
            start = rng.random()
            recs.append({"task": task, "n": rng.randint(1, 3), "start": start,
                         "end": start + rng.random(),
                         "longest": [rng.random(), f"x={task}"] if task % 4 == 0 else None})
        shared = {"call": 1, "worker": wid, "state": "memory", "was": "processing",
                  "n_erred": 0}
        if per_message:
            h.observe("tasks", 1.0, {"of": "task.finished", **shared,
                                     "tasks": [r["task"] for r in recs],
                                     "n": [r["n"] for r in recs],
                                     **{f: [r[f] for r in recs] for f in ("start", "end", "longest")},
                                     "nbytes": [8] * len(recs), "insights": {}})
        else:
            for r in recs:
                h.observe("task.finished", 1.0, {**shared, **r, "nbytes": 8, "insights": {}})
    # one erred task, which travels alone either way
    h.observe("task.finished", 2.0, {"call": 1, "worker": 0, "task": task + 1, "n": 1,
                                     "n_erred": 1, "start": 5.0, "end": 5.5, "state": "erred",
                                     "was": "processing", "nbytes": 0, "insights": {}})
    return h


def test_columns_and_single_events_give_the_same_history() -> None:
    one_by_one, whole = _fed(False), _fed(True)
    assert whole.stream.total == one_by_one.stream.total > 40
    assert whole.stream.since(0) == one_by_one.stream.since(0)
    assert whole.extra.since(0) == one_by_one.extra.since(0)
    assert whole.done == one_by_one.done
    assert whole.fn_time == pytest.approx(one_by_one.fn_time)  # (summed in another order)
    assert whole.workers == one_by_one.workers
    assert any(w["longest"] for w in whole.workers.values())
    rows = whole.records()
    assert rows[-1]["state"] == "erred" and rows[0]["state"] == "memory"
