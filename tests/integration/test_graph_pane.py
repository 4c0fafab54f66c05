"""The graph pane's State from a real pool: nodes, edges and states of submitted tasks.

A Collector (the kernel side's subscriber thread, real ZeroMQ) builds the State from the
events a real `Pool(2)` publishes; the tests read `state.graph` (kernel_ext/state_graph.py)
as every view gets it: a diamond with its edges, arguments, workers and durations; an erred
node and the dependent that blames it; cancellation; a 10,000-leaf tree, which the State
sends as task groups (past MAX_NODES) with the right counts and group edges.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from taskscope.collector import Collector, collector_for
from taskscope.pool import Pool, TaskError
from taskscope.snapshot import snapshot_html
from taskscope.state_graph import GRAPH_STATES, MAX_NODES

T = 60  # seconds: longer means a hang


def inc(x: int) -> int:
    return x + 1


def add(a: int, b: int) -> int:
    return a + b


def boom(x: int) -> int:
    raise ValueError(f"boom on {x}")


def slow(x: float) -> float:
    time.sleep(x)
    return x


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    with Pool(2) as p:
        yield p


@pytest.fixture
def watch(pool: Pool) -> Iterator[Collector]:
    info = pool.connection_info()
    col = Collector(info["events"], info["key"], "graph-test")
    assert col.wait_for(lambda st: st.seq > 0, 10)
    try:
        yield col
    finally:
        col.stop()


def _graph(col: Collector, pred: Any, timeout: float = 20) -> dict[str, Any]:
    assert col.wait_for(lambda st: (g := st.graph.to_json()) is not None and pred(g), timeout), \
        col.state.graph.to_json()
    with col.lock:
        return col.state.graph.to_json()


def _nodes(g: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Task id -> its node as a dict (the State sends columns)."""
    N = g["nodes"]
    groups = {x["call"]: x["fn"] for x in g["groups"]}
    out = {}
    for i, tid in enumerate(N["id"]):
        out[tid] = {"fn": groups.get(N["call"][i]), "state": GRAPH_STATES[N["state"][i]],
                    "worker": N["worker"][i], "duration": N["duration"][i], "index": i,
                    "arg": N["arg"][i],
                    **N["details"].get(str(i), {})}
    return out


def _ended(g: dict[str, Any], ids: list[int], states: tuple[str, ...]) -> bool:
    nodes = _nodes(g) if g.get("nodes") else {}
    return all(t in nodes and nodes[t]["state"] in states for t in ids)


def test_a_diamond_is_four_nodes_four_edges_with_states_workers_and_arguments(
        pool: Pool, watch: Collector) -> None:
    a = pool.submit(inc, 1, key="top")
    b, c = pool.submit(inc, a), pool.submit(add, a, 10)
    d = pool.submit(add, b, c)
    assert d.result(timeout=T) == 2 + 1 + 2 + 10
    g = _graph(watch, lambda g: g["mode"] == "tasks" and sum(
        1 for s in g["nodes"]["state"] if GRAPH_STATES[s] in ("memory", "released")) >= 4)
    nodes = _nodes(g)
    by_key = {n.get("key"): t for t, n in nodes.items()}
    top = by_key["top"]  # a key the user chose travels with the node (1.4)
    assert nodes[top]["fn"] == "inc" and nodes[top]["arg"] == "1"
    # the edges, as index pairs input -> dependent
    E = g["nodes"]["edges"]
    pairs = {(g["nodes"]["id"][E[k]], g["nodes"]["id"][E[k + 1]]) for k in range(0, len(E), 2)}
    dependents = sorted(t for (s, t) in pairs if s == top)
    assert len(dependents) == 2
    sink = [t for t in nodes if sum(1 for (s, u) in pairs if u == t) == 2]
    assert len(sink) == 1 and nodes[sink[0]]["fn"] == "add"
    assert {(d_, sink[0]) for d_ in dependents} <= pairs
    for t in [top, *dependents, sink[0]]:
        n = nodes[t]
        assert n["state"] in ("memory", "released") and n["worker"] in (0, 1)
        assert n["duration"] is not None and n["duration"] >= 0
    # a dependent's argument repr shows the input's value, as the worker saw it
    assert nodes[sink[0]]["arg"] == "3, 12"
    assert {nodes[t]["arg"] for t in dependents} == {"2", "2, 10"}
    # the groups: one per function, counts from the State's calls
    fns = {x["fn"]: x for x in g["groups"]}
    assert fns["inc"]["submitted"] >= 2 and fns["add"]["submitted"] >= 2


def test_an_erred_node_and_its_dependent_that_blames_it(pool: Pool, watch: Collector) -> None:
    bad = pool.submit(boom, 7, key="bad-input")
    child = pool.submit(inc, bad, key="child-of-bad")
    with pytest.raises(TaskError):
        child.result(timeout=T)
    g = _graph(watch, lambda g: g["mode"] == "tasks" and sum(
        1 for s in g["nodes"]["state"] if GRAPH_STATES[s] == "erred") >= 2)
    nodes = {n.get("key"): n for n in _nodes(g).values()}
    assert nodes["bad-input"]["state"] == "erred"
    assert "ValueError: boom on 7" in nodes["bad-input"]["error"]
    assert nodes["bad-input"]["arg"] == "7"
    assert nodes["child-of-bad"]["state"] == "erred"
    assert "'bad-input' failed" in nodes["child-of-bad"]["error"]  # it names the input it blames


def test_cancelled_nodes_are_cancelled_with_their_dependents(pool: Pool, watch: Collector) -> None:
    blockers = [pool.submit(slow, 1.0) for _ in range(2)]  # both workers busy
    # It waits for a blocker's result, so it is surely not sent yet when cancelled (a ready
    # task may already be queued in a busy worker's next message, where it cannot be).
    first = pool.submit(add, blockers[0], 1, key="to-cancel")
    after = pool.submit(inc, first, key="after-cancelled")
    assert first.cancel()
    for b in blockers:
        b.result(timeout=T)
    g = _graph(watch, lambda g: g["mode"] == "tasks" and sum(
        1 for s in g["nodes"]["state"] if GRAPH_STATES[s] == "cancelled") >= 2)
    nodes = {n.get("key"): n for n in _nodes(g).values()}
    assert nodes["to-cancel"]["state"] == "cancelled"
    assert nodes["after-cancelled"]["state"] == "cancelled"
    del after


def test_a_report_embeds_the_graph_the_kernels_collector_built(pool: Pool, tmp_path: Any) -> None:
    col = collector_for(pool, wait_first=True)  # the kernel's dashboard's collector
    a = pool.submit(inc, 1, key="report-top")
    b = pool.submit(add, a, 1, key="report-child")
    assert b.result(timeout=T) == 3
    assert col.wait_for(lambda st: "report-child" in json.dumps(st.graph.to_json()), 10)
    time.sleep(0.2)
    text = pool.report(tmp_path / "r.html").read_text(encoding="utf-8")
    raw = text.split('id="taskscope-report">', 1)[1].split("</script>", 1)[0]
    graph = json.loads(raw)["pools"][0]["state"]["graph"]
    assert graph["mode"] == "tasks" and not graph["late"]
    keys = {d.get("key") for d in graph["nodes"]["details"].values()}
    assert {"report-top", "report-child"} <= keys


def test_a_10000_leaf_tree_is_sent_as_task_groups_with_counts_and_edges(
        pool: Pool, watch: Collector) -> None:
    level = [pool.submit(inc, i) for i in range(10_000)]
    while len(level) > 1:
        level = [pool.submit(add, level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    assert level[0].result(timeout=120) == sum(range(1, 10_001))
    g = _graph(watch, lambda g: g["mode"] == "groups" and (fns := {x["fn"]: x for x in g["groups"]})
               and fns.get("add", {}).get("submitted", 0) >= 9_999
               and fns["add"]["counts"]["processing"] == 0 and fns["add"]["counts"]["queued"] == 0
               and fns["add"]["counts"]["waiting"] == 0, 60)
    assert "nodes" not in g and g["total"] >= 19_999 and g["max_nodes"] == MAX_NODES
    fns = {x["call"]: x for x in g["groups"]}
    by_fn = {x["fn"]: x for x in g["groups"]}
    edges = {(fns[a]["fn"], fns[b]["fn"]): n for a, b, n in g["group_edges"]}
    # every add has two inputs: 10,000 edges from inc leaves, 9,998 between adds (at least:
    # the earlier tests' tasks count too)
    assert edges[("inc", "add")] >= 10_000 and edges[("add", "add")] >= 9_998
    for x in by_fn.values():
        assert sum(x["counts"].values()) == x["submitted"], x  # the counts add up
    # the static snapshot draws the groups, bounded
    with watch.lock:
        state = watch.state.to_json()
    html = snapshot_html(state, None, None, panes=["graph"])
    assert 'data-mode="groups"' in html and "add" in html and len(html) < 30_000
    del level


def test_a_late_joiner_draws_the_live_graph_from_the_join_snapshot(pool: Pool) -> None:
    # Submitted and finished before any subscriber of this test joins: the results are held
    # (the Futures live), a slow task still runs and one waits on it.
    a = pool.submit(inc, 1, key="late-a")
    b = pool.submit(add, a, 10, key="late-b")
    c = pool.submit(add, a, b, key="late-c")
    assert c.result(timeout=T) == 14
    running = pool.submit(slow, 1.5, key="late-running")
    after = pool.submit(add, running, 1, key="late-after")
    info = pool.connection_info()
    col = Collector(info["events"], info["key"], "graph-late")
    try:
        g = _graph(col, lambda g: g["mode"] == "tasks")
        nodes = {n.get("key"): n for n in _nodes(g).values()}
        assert {"late-a", "late-b", "late-c", "late-running", "late-after"} <= set(nodes), g
        assert not g["late"]
        assert nodes["late-c"]["state"] == "memory" and nodes["late-after"]["state"] == "waiting"
        assert nodes["late-running"]["state"] in ("processing", "queued")
        edges = g["nodes"]["edges"]
        pairs = {(g["nodes"]["id"][edges[i]], g["nodes"]["id"][edges[i + 1]])
                 for i in range(0, len(edges), 2)}
        assert {(a.task_id, b.task_id), (a.task_id, c.task_id), (b.task_id, c.task_id),
                (running.task_id, after.task_id)} <= pairs, pairs
        # It goes on live from there: the waiting task runs once its input is done.
        assert after.result(timeout=T) == 2.5
        g = _graph(col, lambda g: _nodes(g).get(after.task_id, {}).get("state") == "memory")
    finally:
        col.stop()
    del a, b, c, running, after
