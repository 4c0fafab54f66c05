"""The statistical profiler: a worker samples the running task's stack; trees of samples.

::

    worker process                                                      driver
    sampler thread, every SAMPLE_INTERVAL_S:                            ProfileStore
      sys._current_frames()[main] -> the task's frames (below            (profile_store.py)
      worker.py's run loop) -> +1 along the path of tree[call]    --->   merges, prunes,
    main thread: sets `call` per unit; its answers carry `take()`        publishes `profile`
      (the samples since the last answer, as compact wire trees)        events (protocol 1.4)

A tree counts samples *inclusively*: a node's count is the number of samples in which its
frame was on the stack, so the root's count is the samples of the call, and a node's own
("self") time is its count minus its children's. Nodes are functions, keyed by
``(name, file, line)`` with ``line`` the line the function starts on (``co_firstlineno``):
one node per function per path, as in Dask's profiler, so a loop's many lines do not split it.

The wire form of a tree is nested lists, ``[name, file, line, count, [children...]]``:
msgpack-friendly, a few bytes a node. `to_wire` keeps the heaviest nodes (best first from
the root, so what is kept stays connected) and drops the rest into their parents' self time.

Why a thread and `sys._current_frames()` (as Dask's profiler): no tracing hook slows the
task down; the task is looked at only when the sampler holds the GIL, 100 times a second.
"""
from __future__ import annotations

import heapq
import itertools
import os
import sys
import threading
import time
from typing import Any

__all__ = ["Node", "Sampler", "merge_wire", "to_dicts", "to_wire", "wire_total"]

SAMPLE_INTERVAL_S = 0.01  # 100 samples a second, as Dask's profiler: ~1 % error in a second
MAX_WIRE_NODES = 1000  # nodes a worker ships per call per answer (small branches fold up)
# A unit running this long has its samples sent on their own every LONG_UNIT_SHIP_S (from the
# sampler's thread, on its own socket): a one-minute task's profile grows while it runs.
# Shorter units' samples ride with their results, so `Pool.profile()` is whole at map return.
LONG_UNIT_S = 1.0
LONG_UNIT_SHIP_S = 1.0
WORKER_FILE = os.path.join(os.path.dirname(__file__), "worker.py")  # co_filename of its frames
# The frames of worker.py that call a task's function: a sample's stack is cut there. A
# sample whose first worker.py frame is another one (pickling an answer, waiting for work)
# is the worker's own overhead, not the task's: it is not counted.
RUNNER_FRAMES = frozenset({"run_unit", "_run_fast", "_run_batch", "<genexpr>"})
# What the runners call besides the task: unpickling its arguments, putting its inputs in,
# repr of its argument, a joblib batch's context. Their samples are the worker's, too.
OVERHEAD_FILES = frozenset(os.path.join(os.path.dirname(__file__), name)
                           for name in ("_pickle.py", "_deps.py", "_joblib_worker.py"))

Key = tuple[str, str, int]


class Node:
    """One function on one path of a tree: samples seen (inclusive), and callees."""

    __slots__ = ("children", "count")

    def __init__(self) -> None:
        self.count = 0
        self.children: dict[Any, Node] = {}

    def child(self, key: Any) -> Node:
        node = self.children.get(key)
        if node is None:
            node = self.children[key] = Node()
        return node

    def size(self) -> int:
        """Nodes in this tree (this one included)."""
        return 1 + sum(c.size() for c in self.children.values())


def _key_of(code: Any) -> Key:
    return (getattr(code, "co_qualname", code.co_name), code.co_filename, code.co_firstlineno)


def to_wire(root: Node, max_nodes: int = MAX_WIRE_NODES, keys: Any = None) -> list[Any]:
    """The wire form of `root` (see the module docstring), at most `max_nodes` nodes.

    Children are chosen best first: the node of most samples among those whose parent is
    kept, until `max_nodes`; so the kept tree is connected and holds the heaviest paths.
    `keys` turns a child's key into ``(name, file, line)`` (the worker keys by code object)."""
    top: list[Any] = ["", "", 0, root.count, []]
    order = itertools.count()  # ties broken by insertion order: no comparing of nodes
    heap: list[tuple[int, int, Any, Node, list[Any]]] = []
    for key, node in root.children.items():
        heapq.heappush(heap, (-node.count, next(order), key, node, top[4]))
    kept = 1
    while heap and kept < max_nodes:
        _, _, key, node, siblings = heapq.heappop(heap)
        name, file, line = keys(key) if keys is not None else key
        entry = [name, file, line, node.count, []]
        siblings.append(entry)
        kept += 1
        for ckey, cnode in node.children.items():
            heapq.heappush(heap, (-cnode.count, next(order), ckey, cnode, entry[4]))
    return top


def wire_total(wire: Any) -> int:
    """The samples of a wire tree (its root's count); 0 for anything malformed."""
    try:
        return max(0, int(wire[3]))
    except (TypeError, ValueError, IndexError):
        return 0


def merge_wire(root: Node, wire: Any, depth: int = 0) -> None:
    """Add a wire tree (from a worker or an event) into `root`. Entries of the wrong shape
    are skipped: the wire was signed, but a reader must not crash on a bug elsewhere."""
    if depth > 200 or not isinstance(wire, (list, tuple)) or len(wire) != 5:
        return
    root.count += wire_total(wire)
    children = wire[4]
    if not isinstance(children, (list, tuple)):
        return
    for c in children:
        if isinstance(c, (list, tuple)) and len(c) == 5:
            key = (str(c[0]), str(c[1]), int(c[2]) if isinstance(c[2], int) else 0)
            merge_wire(root.child(key), c, depth + 1)


def prune(root: Node, max_nodes: int) -> Node:
    """`root` cut to its `max_nodes` heaviest nodes (as `to_wire`), as a new tree."""
    out = Node()
    merge_wire(out, to_wire(root, max_nodes))
    return out


def to_dicts(root: Node, name: str = "all", file: str = "", line: int = 0) -> dict[str, Any]:
    """The tree as plain dicts, heaviest callee first: what `Pool.profile()` returns."""
    return {"name": name, "file": file, "line": line, "count": root.count,
            "children": [to_dicts(node, *key) for key, node in
                         sorted(root.children.items(), key=lambda kv: -kv[1].count)]}


class Sampler:
    """A worker's profiler: a daemon thread sampling the stack of the thread that made it
    (the worker's main thread, which runs the tasks).

    That thread sets `call` to the id of the call whose unit it runs (0 between units)
    and takes the samples since the last time with `take()` when it answers. Samples are
    grouped per call: ``{call: Node}``, one tree each.
    """

    def __init__(self, interval: float = SAMPLE_INTERVAL_S, connect: Any = None) -> None:
        self.interval = interval
        self.call = 0
        self.task = 0  # the unit running (set with `call`): how long it runs decides shipping
        self._connect = connect  # -> send(parts), made in the sampler's thread (long units)
        self.pending = 0  # samples not yet taken: the main thread's cheap "anything new?"
        self._trees: dict[int, Node] = {}
        self._lock = threading.Lock()
        self._main = threading.get_ident()  # made by the thread that runs the tasks
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True,
                                        name="taskscope-profiler")

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling; wait for the thread (its socket must be idle before the worker's
        zmq context is destroyed)."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(1.0)

    def _sample_until_stopped(self) -> None:
        # On a schedule, not `interval` after each sample: waking, this thread waits for
        # the GIL (up to the 5 ms switch interval while a task computes), and sleeping a
        # full interval after that took ~70 samples a second instead of 100.
        due = time.monotonic()
        send: Any = None
        task, task_since, shipped = 0, due, due
        while True:
            due += self.interval
            now = time.monotonic()
            if due < now - self.interval:  # far behind (a suspended process): start again
                due = now
            if self._stopped.wait(max(0.0, due - now)):
                return
            call = self.call
            if call:
                self.sample(call)
            if self.task != task:
                task, task_since = self.task, now
            elif (task and self._connect is not None and now - task_since >= LONG_UNIT_S
                  and now - shipped >= LONG_UNIT_SHIP_S and self.pending):
                shipped = now
                send = send or self._connect()
                send(self.take())

    def sample(self, call: int) -> None:
        """Count one sample of the main thread's stack for `call` (when it runs a task)."""
        frame = sys._current_frames().get(self._main)
        codes = []
        while frame is not None:
            code = frame.f_code
            if code.co_filename == WORKER_FILE:
                break
            codes.append(code)
            frame = frame.f_back
        if (frame is None or not codes or frame.f_code.co_name not in RUNNER_FRAMES
                or codes[-1].co_filename in OVERHEAD_FILES):
            return  # not inside a task's function: the worker's own work
        with self._lock:
            node = self._trees.get(call)
            if node is None:
                node = self._trees[call] = Node()
            node.count += 1
            for code in reversed(codes):  # outermost (the task's function) first
                node = node.child(code)
                node.count += 1
            self.pending += 1

    def take(self) -> list[list[Any]]:
        """The samples since the last `take`, as ``[[call, wire tree], ...]``, and forget them."""
        with self._lock:
            trees, self._trees, self.pending = self._trees, {}, 0
        return [[call, to_wire(root, keys=_key_of)] for call, root in trees.items()]


def long_unit_sender(endpoint: str, key: bytes, worker_id: int) -> Any:
    """What a worker's sampler calls (in its own thread) to get a sender of samples: a
    DEALER of its own (identity ``w<id>p``; sockets are not shared between threads), signed
    as ``worker:<id>:profile`` (its own sequence numbers)."""
    def connect() -> Any:
        from . import _transport
        from .protocol import Codec

        sock = _transport.connect_dealer(endpoint, f"w{worker_id}p".encode())
        codec = Codec(key, f"worker:{worker_id}:profile")
        return lambda parts: _transport.send_frames(sock, codec.encode("profile",
                                                                       {"profile": parts}))
    return connect


class NoSampler:
    """What a worker of a pool that does not profile holds: the same attributes, no thread."""

    call = 0
    task = 0
    pending = 0

    def take(self) -> list[list[Any]]:
        return []

    def stop(self) -> None:
        pass

