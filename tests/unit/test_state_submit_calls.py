"""A submit call's status in the State: done while none of its tasks is pending, running again
at its next submit (a submit call has no call.ended of its own: the cell may submit more)."""
from __future__ import annotations

from typing import Any

from taskscope.pool import coalesce
from taskscope.pool.protocol import Event
from taskscope.state import State


class Feed:
    def __init__(self) -> None:
        self.st, self.seq, self.t = State(), 0, 100.0

    def __call__(self, kind: str, **body: Any) -> None:
        self.seq += 1
        self.t += 0.01
        self.st.apply(Event(kind, self.seq, self.t, "driver", body))

    def start(self, api: str = "submit") -> None:
        self("call.started", call=1, api=api, fn="inc", module="m", file="f.py", line=1,
             callsite=None, total=None if api == "submit" else 3)

    def submit(self, task: int) -> None:
        self("task.queued", call=1, task=task, n=1)

    def finish(self, task: int, erred: int = 0) -> None:
        self("task.processing", call=1, task=task, worker=0, n=1)
        self("task.finished", call=1, task=task, worker=0, n=1, n_erred=erred, start=self.t,
             end=self.t + 0.005, state="memory", nbytes=8, insights={}, longest=None,
             was="processing")


def test_a_submit_call_settles_when_its_last_task_ends_and_reopens_on_the_next_submit() -> None:
    f = Feed()
    f.start()
    f.submit(1)
    f.submit(2)
    f.finish(1)
    call = f.st.calls[1]
    assert call["status"] == "running" and call["ended"] is None and call["eta"] is not None

    f.finish(2)
    assert call["status"] == "done" and call["eta"] is None and call["ended"] == f.t

    f.submit(3)
    assert call["status"] == "running" and call["ended"] is None and call["total"] == 3
    f.finish(3, erred=1)
    assert call["status"] == "erred" and call["eta"] is None


def test_a_cancelled_last_task_settles_it_too() -> None:
    f = Feed()
    f.start()
    f.submit(1)
    f.submit(2)
    f.finish(1)
    f("task.cancelled", call=1, task=2, n=1, was="queued")
    assert f.st.calls[1]["status"] == "done"


def test_a_map_call_waits_for_its_own_call_ended() -> None:
    f = Feed()
    f.start(api="map")
    f.submit(1)
    f.finish(1)
    assert f.st.calls[1]["status"] == "running"
    f("call.ended", call=1, status="done")
    assert f.st.calls[1]["status"] == "done"


def test_it_settles_when_its_last_tasks_end_in_one_folded_tasks_event() -> None:
    f = Feed()
    f.start()
    for task in (1, 2, 3):
        f.submit(task)
        f("task.processing", call=1, task=task, worker=0, n=1)
    folded: Any = None
    for task in (1, 2, 3):  # as the driver sends one results message's clean units
        body = {"call": 1, "task": task, "worker": 0, "n": 1, "n_erred": 0, "start": f.t,
                "end": f.t + 0.005, "state": "memory", "nbytes": 8, "insights": {},
                "longest": None, "was": "processing"}
        step = coalesce.fold(folded, "task.finished", body)
        folded = folded if step is True else {"kind": coalesce.KIND, "body": step}
    assert folded is not None and folded["kind"] == coalesce.KIND
    f(coalesce.KIND, **folded["body"])
    call = f.st.calls[1]
    assert call["counts"]["memory"] == 3 and call["status"] == "done" and call["eta"] is None
