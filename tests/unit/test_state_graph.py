"""The State's task graph (kernel_ext/state_graph.py) from event sequences, no processes.

The events are those a pool's driver publishes (docs/protocol.md, 1.4); the integration
tests (tests/integration/test_graph_pane.py) check a real pool makes them.
"""
from __future__ import annotations

import json
from typing import Any

from taskscope.pool.protocol import Event
from taskscope.snapshot import snapshot_html
from taskscope.state import State
from taskscope.state_graph import GRAPH_STATES, MAX_NODES


class Feed:
    def __init__(self) -> None:
        self.st = State()
        self.seq = 0
        self.t = 100.0

    def __call__(self, kind: str, **body: Any) -> None:
        self.seq += 1
        self.t += 0.001
        self.st.apply(Event(kind, self.seq, self.t, "driver", body))

    @classmethod
    def pair(cls, fn: str) -> Feed:
        """Task 1 running on worker 0, task 2 waiting for it; both of call 1 (`fn`)."""
        f = cls()
        f.call(1, fn)
        f("task.queued", call=1, task=1, n=1)
        f("task.waiting", call=1, task=2, n=1, deps=[1])
        f("task.processing", call=1, task=1, worker=0, n=1)
        return f

    def call(self, call: int, fn: str, api: str = "submit") -> None:
        self("call.started", call=call, api=api, fn=fn, module="m", file="f.py", line=1,
             callsite=None, total=None)

    def run(self, call: int, task: int, worker: int = 0, state: str = "memory",
            arg: str | None = None) -> None:
        self("task.processing", call=call, task=task, worker=worker, n=1)
        self("task.finished", call=call, task=task, worker=worker, n=1, n_erred=0,
             start=self.t, end=self.t + 0.25, state=state, nbytes=8, insights={},
             longest=[0.25, arg] if arg is not None else None, was="processing")


def states(g: dict[str, Any]) -> list[str]:
    return [GRAPH_STATES[c] for c in g["nodes"]["state"]]


def test_no_graph_without_submitted_tasks_and_maps_make_no_nodes() -> None:
    f = Feed()
    f.call(1, "square", api="map")
    f("task.queued", call=1, task=1, n=100)
    f.run(1, 1, state="released")
    assert f.st.graph.to_json() is None and "graph" not in f.st.to_json()


def test_a_diamond_with_states_edges_arguments_and_a_key() -> None:
    f = Feed()
    f.call(1, "inc")
    f.call(2, "add")
    f("task.queued", call=1, task=1, n=1, key="top")
    f("task.waiting", call=1, task=2, n=1, deps=[1])
    f("task.waiting", call=2, task=3, n=1, deps=[1])
    f("task.waiting", call=2, task=4, n=1, deps=[2, 3])
    g = f.st.graph.to_json()
    assert g["mode"] == "tasks" and states(g) == ["queued", "waiting", "waiting", "waiting"]
    assert g["nodes"]["edges"] == [0, 1, 0, 2, 1, 3, 2, 3]
    f.run(1, 1, worker=1, arg="1")
    f("task.queued", call=1, task=2, n=1, was="waiting")
    g = f.st.graph.to_json()
    assert states(g)[:2] == ["memory", "queued"]
    assert g["nodes"]["worker"][0] == 1 and g["nodes"]["duration"][0] == 0.25
    assert g["nodes"]["details"]["0"] == {"key": "top"} and g["nodes"]["arg"][0] == "1"
    f("task.released", call=1, task=1, n=1)
    assert states(f.st.graph.to_json())[0] == "released"
    # groups: the calls' own counts, and edges between functions with their task counts
    g = f.st.graph.to_json()
    assert [(x["fn"], x["submitted"]) for x in g["groups"]] == [("inc", 2), ("add", 2)]
    assert g["group_edges"] == [[1, 1, 1], [1, 2, 2], [2, 2, 1]]
    assert g["groups"][0]["counts"]["released"] == 1 and g["groups"][0]["counts"]["queued"] == 1
    json.dumps(f.st.to_json())  # the whole State stays JSON


def test_an_erred_node_keeps_its_error_and_the_dependent_names_its_input() -> None:
    f = Feed.pair("boom")
    f("task.finished", call=1, task=1, worker=0, n=1, n_erred=1, start=1.0, end=1.5,
      state="released", nbytes=0, insights={}, longest=None, was="processing")
    f("task.erred", call=1, task=1, worker=0, pid=9, index=0, exc_type="ValueError",
      message="boom on 7", traceback="tb", arg="7")
    f("task.finished", call=1, task=2, worker=None, n=1, n_erred=1, start=2.0, end=2.0,
      state="released", nbytes=0, insights={}, longest=None, was="waiting")
    f("task.erred", call=1, task=2, worker=-1, pid=None, index=0, exc_type="TaskError",
      message="taskscope: task 'boom-2' did not run: its input 'boom-1' failed", traceback="",
      arg="")
    g = f.st.graph.to_json()
    assert states(g) == ["erred", "erred"]
    d = g["nodes"]["details"]
    assert d["0"]["error"] == "ValueError: boom on 7" and g["nodes"]["arg"] == ["7", None]
    assert "'boom-1' failed" in d["1"]["error"]
    # the dependent never ran: no worker, no duration (the input ran, on worker 0)
    assert g["nodes"]["worker"] == [0, None] and g["nodes"]["duration"] == [0.5, None]


def test_cancelled_and_retried_tasks_move_without_new_nodes() -> None:
    f = Feed.pair("inc")
    f("task.queued", call=1, task=1, n=1, was="processing", retry=True)  # its worker died
    f("task.cancelled", call=1, task=2, n=1, was="waiting")
    g = f.st.graph.to_json()
    assert g["total"] == 2 and states(g) == ["queued", "cancelled"]
    assert g["groups"][0]["counts"]["cancelled"] == 1


def test_past_max_nodes_ended_nodes_are_forgotten_then_live_ones_become_groups() -> None:
    f = Feed()
    f.call(1, "leaf")
    f.call(2, "join")
    for t in range(1, MAX_NODES + 1):  # ended ones: forgotten, oldest first
        f("task.queued", call=1, task=t, n=1)
        f.run(1, t, state="released")
    f("task.queued", call=1, task=MAX_NODES + 1, n=1)
    g = f.st.graph.to_json()
    assert g["mode"] == "tasks" and len(g["nodes"]["id"]) <= MAX_NODES
    assert g["nodes"]["id"][-1] == MAX_NODES + 1 and 1 not in g["nodes"]["id"]
    base = MAX_NODES + 1
    for t in range(base + 1, base + MAX_NODES + 2):  # live ones: too many to draw one by one
        f("task.waiting", call=2, task=t, n=1, deps=[t - 1])
    g = f.st.graph.to_json()
    assert g["mode"] == "groups" and "nodes" not in g and f.st.graph.nodes == {}
    assert g["total"] == 2 * MAX_NODES + 2
    edges = {(a, b): n for a, b, n in g["group_edges"]}
    assert edges[(1, 2)] == 1 and edges[(2, 2)] == MAX_NODES
    assert len(json.dumps(g)) < 2000  # a few rows whatever the graph's size
    # the live tasks end (cancelled): the next submit starts single tasks again
    for t in range(base + 1, base + MAX_NODES + 2):
        f("task.cancelled", call=2, task=t, n=1, was="waiting")
    f("task.cancelled", call=1, task=base, n=1, was="queued")
    f("task.queued", call=1, task=99_999, n=1)
    g = f.st.graph.to_json()
    assert g["mode"] == "tasks" and g["nodes"]["id"] == [99_999]


def test_a_late_joiner_gets_the_groups_only() -> None:
    f = Feed()
    f("snapshot", pool={"id": "p", "name": "pool-1", "pid": 1, "n_workers": 2,
                        "status": "running", "started": 1.0},
      workers=[], calls=[{"call": 3, "api": "submit", "fn": "inc", "module": "m", "file": "f",
                          "line": 1, "callsite": None, "total": 10, "submitted": 10,
                          "processing": 0, "done": 10, "erred": 0, "cancelled": 0,
                          "status": "running", "started": 1.0}])
    g = f.st.graph.to_json()
    assert g["mode"] == "groups" and g["late"] is True and g["groups"][0]["submitted"] == 10


def test_the_snapshot_draws_tasks_small_and_groups_big_within_bounds() -> None:
    f = Feed()
    f.call(1, "inc")
    f("task.queued", call=1, task=1, n=1)
    f("task.waiting", call=1, task=2, n=1, deps=[1])
    html = snapshot_html(f.st.to_json(), panes=["graph"])
    assert 'data-mode="tasks"' in html and 'data-nodes="2"' in html and "1 waiting" in html
    assert "tss-pane-graph" not in snapshot_html(f.st.to_json())  # optional: asked for only
    for t in range(3, 400):
        f("task.waiting", call=1, task=t, n=1, deps=[t - 1])
    html = snapshot_html(f.st.to_json(), panes=["graph"])
    assert 'data-mode="groups"' in html and len(html) < 10_000


def test_the_snapshot_of_fifty_task_groups_stays_small() -> None:
    """The State keeps 50 calls at most: the groups' picture is bounded by that."""
    f = Feed()
    tid = 0
    for c in range(1, 61):  # 60 functions: the oldest 10 calls are dropped by the State
        f.call(c, f"step_with_a_rather_long_function_name_{c}")
        for _ in range(120):
            tid += 1
            f("task.waiting", call=c, task=tid, n=1, deps=[tid - 120] if tid > 120 else [])
    g = f.st.to_json()["graph"]
    assert g["mode"] == "groups" and len(g["groups"]) == 50
    html = snapshot_html(f.st.to_json(), panes=["graph"])
    assert 'data-mode="groups"' in html and len(html) < 25_000, len(html)
