"""The graph of submitted tasks, as the graph pane draws it (docs/state.md, "graph").

Fed by `State` (a few hook lines in state.py) with the per-task events of submitted tasks
(calls whose `api` is a submit); no IO here::

    task.waiting/queued (+ deps, key: 1.4) ──▶ node {state, call, deps}
    task.processing / finished / erred / cancelled / released ──▶ its state, worker,
                                                                   duration, arg, error
    to_json() ──▶ {"mode": "tasks", nodes as columns, edges}   (at most MAX_NODES nodes)
              └─▶ {"mode": "groups", one node per function, edges with counts}

Bounded as the rest of the State: at most MAX_NODES nodes are kept; past that, finished
nodes (released, erred, cancelled) are forgotten oldest first, and when the live graph
alone is larger, the view switches to Dask's task groups: one node per function, with the
state counts of its submit call (the State counts those already) and edges between
functions with the number of task edges. It switches back to single tasks when a new task
arrives while no submitted task is live. Which function a dependency ran is remembered for
the newest MAX_TRACKED tasks only (an edge from an older one is not counted).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

__all__ = ["GRAPH_STATES", "GraphState", "MAX_NODES"]

MAX_NODES = 5000  # single tasks drawn at most: past this the browser gets task groups
MAX_TRACKED = 100_000  # task -> call kept for group edges (~10 MB at most)
ARG_CHARS = 40  # a node's argument repr, cut: 5,000 of them travel in every graph update
ERROR_CHARS = 300  # an erred node's message (the errors pane has the traceback)
# Dask's state names, in the order the pane lists them; a node's state travels as its index.
GRAPH_STATES = ("waiting", "queued", "processing", "memory", "erred", "cancelled", "released")
_CODE = {s: i for i, s in enumerate(GRAPH_STATES)}
_ENDED = frozenset(("erred", "cancelled", "released"))
_LIVE = ("waiting", "queued", "processing", "memory")


def _cut(text: Any, n: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


class _Node:
    __slots__ = ("arg", "call", "deps", "duration", "error", "key", "state", "worker")

    def __init__(self, call: int, state: str, deps: tuple[int, ...], key: str | None) -> None:
        self.call = call
        self.state = state
        self.deps = deps
        self.key = key
        self.worker: int | None = None
        self.duration: float | None = None
        self.arg: str | None = None
        self.error: str | None = None


class GraphState:
    """Nodes and edges of submitted tasks (see the module docstring)."""

    def __init__(self, state: Any) -> None:
        self._state = state  # the owning State: its calls hold each group's counts
        self.nodes: OrderedDict[int, _Node] = OrderedDict()
        self.graph_calls: set[int] = set()  # calls of submitted tasks (one per function)
        self.group_edges: dict[tuple[int, int], int] = {}  # (input call, call) -> task edges
        self._task_call: OrderedDict[int, int] = OrderedDict()
        self.grouped = False
        self.total = 0  # submitted tasks seen
        self.version = 0  # bumped on every change: hosts resend the graph only then

    # ---------------------------------------------------------------- events (from State)
    def call_started(self, b: dict[str, Any]) -> None:
        if str(b.get("api", "")).endswith("submit"):
            self.graph_calls.add(b["call"])

    def added(self, b: dict[str, Any], state: str) -> None:
        """A task.waiting / task.queued: a new node, or one going back (`was`)."""
        call, task = b["call"], b["task"]
        if call not in self.graph_calls:
            return
        self.version += 1
        node = self.nodes.get(task)
        if b.get("was") or b.get("retry") or b.get("lost"):  # an existing task moves back
            if node is not None:
                node.state = state
            return
        deps = tuple(b.get("deps") or ())
        self.total += 1
        self._task_call[task] = call
        if len(self._task_call) > MAX_TRACKED:
            self._task_call.popitem(last=False)
        for dep in deps:
            dep_call = self._task_call.get(dep)
            if dep_call is not None:
                self.group_edges[(dep_call, call)] = self.group_edges.get((dep_call, call), 0) + 1
        if self.grouped:
            if self.live_tasks() > 1:  # (this task is counted already)
                return
            self.grouped = False  # the big graph is gone: single tasks again
        self.nodes[task] = _Node(call, state, deps, b.get("key"))
        if len(self.nodes) > MAX_NODES:
            self._shrink()

    def adopt(self, rows: list[Any]) -> None:
        """A late joiner's nodes: the driver's live submitted tasks from a join snapshot's
        ``history.graph`` (`[task, call, state, worker, deps, key]` rows, oldest first), only
        when this State saw no submitted task of its own (a watcher keeps what it built)."""
        if self.total:
            return
        for row in rows:
            task, call, state, worker, deps, key = row
            if call not in self.graph_calls or state not in _CODE:
                continue
            self.added({"call": call, "task": task, "deps": deps, "key": key}, str(state))
            node = self.nodes.get(task)
            if node is not None and worker is not None and worker >= 0:
                node.worker = worker

    def moved(self, b: dict[str, Any], state: str) -> None:
        """task.processing / task.cancelled / task.released: the node's new state."""
        node = self._node(b)
        if node is not None:
            node.state = state
            if "worker" in b:
                node.worker = b["worker"]

    def finished(self, b: dict[str, Any]) -> None:
        node = self._node(b)
        if node is None:
            return
        node.state = "erred" if b.get("n_erred") else (
            "memory" if b.get("state") == "memory" else "released")
        if b.get("was", "processing") != "processing":
            return  # it never ran (an input failed first): no worker, no duration
        worker = b.get("worker")
        node.worker = worker if worker is not None and worker >= 0 else None
        if b.get("start") is not None and b.get("end") is not None:
            node.duration = max(0.0, b["end"] - b["start"])
        longest = b.get("longest")
        if longest and node.arg is None:
            node.arg = _cut(longest[1], ARG_CHARS)

    # -- many plain records of one call at once (a ``tasks`` event: state_tasks.py) -------
    # The same State as one call of the per-record method each; what they would look up per
    # record and cannot change between records (a grouped pane's live count, a node that
    # is not kept) is looked up once.
    def added_plain(self, call: int, tasks: list[int], state: str) -> None:
        """`added` of tasks without inputs, key or move back."""
        if call not in self.graph_calls:
            return
        if not (self.grouped and self.live_tasks() > 1):
            for task in tasks:
                self.added({"call": call, "task": task}, state)
            return
        self.version += len(tasks)  # (each record's added() returns after counting it)
        self.total += len(tasks)
        task_call = self._task_call
        for task in tasks:
            task_call[task] = call
            if len(task_call) > MAX_TRACKED:
                task_call.popitem(last=False)

    def moved_plain(self, call: int, tasks: list[int], state: str, worker: Any = None) -> None:
        """`moved` of tasks (`worker` None: the records say none)."""
        if call not in self.graph_calls:
            return
        self.version += len(tasks)
        if not self.nodes:
            return
        for task in tasks:
            node = self.nodes.get(task)
            if node is not None:
                node.state = state
                if worker is not None:
                    node.worker = worker

    def finished_plain(self, call: int, tasks: list[int], b: dict[str, Any],
                       starts: list[float], ends: list[float], longest: list[Any]) -> None:
        """`finished` of tasks that ran cleanly on the worker of ``tasks`` body `b`."""
        if call not in self.graph_calls:
            return
        if not self.nodes:
            self.version += len(tasks)
            return
        for i, task in enumerate(tasks):
            self.finished({"call": call, "task": task, "worker": b.get("worker"), "n_erred": 0,
                           "state": b.get("state"), "start": starts[i], "end": ends[i],
                           "longest": longest[i]})

    def erred(self, b: dict[str, Any]) -> None:
        """task.erred: the node's error (an upstream failure names the input it blames)."""
        node = self._node(b)
        if node is None:
            return
        node.state = "erred"
        node.error = _cut(f"{b.get('exc_type', '')}: {b.get('message', '')}", ERROR_CHARS)
        if b.get("arg"):
            node.arg = _cut(b["arg"], ARG_CHARS)
        if b.get("worker") is not None and b["worker"] >= 0:
            node.worker = b["worker"]

    def _node(self, b: dict[str, Any]) -> _Node | None:
        if b.get("call") not in self.graph_calls:
            return None
        self.version += 1
        return self.nodes.get(b.get("task"))

    def live_tasks(self) -> int:
        """Submitted tasks not yet ended (waiting, queued, processing or in memory)."""
        calls = self._state.calls
        return sum(calls[c]["counts"][s] for c in self.graph_calls if c in calls for s in _LIVE)

    def _shrink(self) -> None:
        """Over MAX_NODES: forget ended nodes, oldest first, down to 90%; if the live ones
        alone are too many, draw task groups instead (and keep no nodes)."""
        target = MAX_NODES * 9 // 10
        excess = len(self.nodes) - target
        for task in [t for t, n in self.nodes.items() if n.state in _ENDED][:excess]:
            del self.nodes[task]
        if len(self.nodes) > MAX_NODES:
            self.grouped = True
            self.nodes.clear()

    # ---------------------------------------------------------------- reading
    def to_json(self) -> dict[str, Any] | None:
        """The graph part of the State (None when no task was submitted)."""
        if not self.graph_calls:
            return None
        calls = self._state.calls
        groups = []
        for cid in sorted(self.graph_calls):
            c = calls.get(cid)
            if c is not None:
                groups.append({"call": cid, "fn": c["fn"], "color": c["color"],
                               "counts": dict(c["counts"]), "submitted": c["submitted"]})
        kept = {g["call"] for g in groups}
        group_edges = [[a, b, n] for (a, b), n in sorted(self.group_edges.items())
                       if a in kept and b in kept]
        # A view that joined late saw no task's events: the groups (the calls' counts) only.
        grouped = self.grouped or not self.total
        # Tasks submitted before this State subscribed: counted by their calls, not drawn.
        missed = max(0, sum(g["submitted"] for g in groups) - self.total)
        out: dict[str, Any] = {"mode": "groups" if grouped else "tasks", "late": not self.total,
                               "missed": missed,
                               "version": self.version, "total": self.total,
                               "max_nodes": MAX_NODES, "states": list(GRAPH_STATES),
                               "groups": groups, "group_edges": group_edges}
        if not grouped:
            out["nodes"] = self._nodes_json()
        return out

    def _nodes_json(self) -> dict[str, Any]:
        """The nodes as columns (compact: one list per field) and edges as index pairs."""
        index = {t: i for i, t in enumerate(self.nodes)}
        ids, calls, states, workers, durations, args, edges = [], [], [], [], [], [], []
        details: dict[str, dict[str, str]] = {}  # sparse: only nodes that have them
        for i, (task, n) in enumerate(self.nodes.items()):
            ids.append(task)
            calls.append(n.call)
            states.append(_CODE[n.state])
            workers.append(n.worker)
            durations.append(None if n.duration is None else float(f"{n.duration:.3g}"))
            args.append(n.arg)
            for dep in n.deps:
                j = index.get(dep)
                if j is not None:
                    edges += (j, i)
            if n.error is not None or n.key is not None:
                details[str(i)] = {k: v for k, v in (("error", n.error), ("key", n.key))
                                   if v is not None}
        return {"id": ids, "call": calls, "state": states, "worker": workers,
                "duration": durations, "arg": args, "edges": edges, "details": details}
