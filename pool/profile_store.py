"""The driver's profiles: the workers' stack samples merged per call (profiler.py).

::

    worker answer body["profile"] = [[call, wire tree], ...]
        -> ProfileStore.add (driver thread): merge into the call's tree and into `pending`
        -> publish (every PUBLISH_INTERVAL_S, and before each snapshot): one `profile` event
           with the samples since the last one (protocol 1.4) -> every State merges them
        -> snapshot(): the kept trees, for a late joiner's history (history.py)
        -> profile(call): `Pool.profile()`'s plain dicts, from any thread

Bounded: the trees of the newest MAX_CALLS calls, each cut to its MAX_NODES heaviest nodes
when it grows past twice that. A pruned branch's samples stay in its parent's count.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from typing import Any

from .profiler import SAMPLE_INTERVAL_S, Node, merge_wire, prune, to_dicts, to_wire

__all__ = ["ProfileStore", "function_matches"]

MAX_CALLS = 50  # as the State's calls: older calls' profiles are let go
MAX_NODES = 2000  # per call: a flame graph shows far fewer; `Pool.profile()` gets these
MAX_EVENT_NODES = 1000  # per call per `profile` event (the samples of half a second)
MAX_SNAPSHOT_NODES = 500  # per call in a late joiner's history: what the pane draws
PUBLISH_INTERVAL_S = 0.5  # as worker samples: the flame graph grows twice a second
# cloudpickle names the file of every function it pickles by value (a notebook's, a
# script's __main__) "<dynamic-code>"; the driver still has those functions to ask.
DYNAMIC_FILE = "<dynamic-code>"


class _CallProfile:
    __slots__ = ("adds", "fn", "module", "root")

    def __init__(self, fn: str, module: str) -> None:
        self.fn, self.module = fn, module
        self.root = Node()
        self.adds = 0


def function_matches(fn: Any, name: str, module: str) -> bool:
    """Whether `fn` (a function, or its name, or ``module.name``) is the call's function."""
    if callable(fn):
        return (getattr(fn, "__qualname__", getattr(fn, "__name__", None)) == name
                and getattr(fn, "__module__", module) == module)
    return fn in (name, f"{module}.{name}")


class ProfileStore:
    """Written by the driver thread (`add`, `publish`); read from any thread (`profile`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: OrderedDict[int, _CallProfile] = OrderedDict()
        self._pending: dict[int, Node] = {}
        self._next_publish = 0.0
        self._files: dict[tuple[str, int], str] = {}  # (qualname, line) -> file (_name_files)

    def add(self, parts: Any, calls: dict[int, Any]) -> None:
        """Merge a worker's samples (``[[call, wire tree], ...]``) into each call's tree."""
        if not isinstance(parts, list):
            return
        with self.lock:
            for part in parts:
                if not (isinstance(part, list) and len(part) == 2 and isinstance(part[0], int)):
                    continue
                call_id, wire = part
                entry = self.calls.get(call_id)
                if entry is None:
                    info = getattr(calls.get(call_id), "info", None) or {}
                    entry = self.calls[call_id] = _CallProfile(str(info.get("fn", "?")),
                                                               str(info.get("module", "")))
                    while len(self.calls) > MAX_CALLS:
                        old, _ = self.calls.popitem(last=False)
                        self._pending.pop(old, None)
                self._name_files(wire)
                merge_wire(entry.root, wire)
                merge_wire(self._pending.setdefault(call_id, Node()), wire)
                entry.adds += 1
                if entry.adds % 32 == 0 and entry.root.size() > 2 * MAX_NODES:
                    entry.root = prune(entry.root, MAX_NODES)

    def _name_files(self, wire: Any, depth: int = 0) -> None:
        """Give frames of functions pickled by value their file back, from this process's
        ``__main__`` (where a notebook's cells and a script's functions live)."""
        if depth > 200 or not isinstance(wire, list) or len(wire) != 5:
            return
        if wire[1] == DYNAMIC_FILE and isinstance(wire[0], str) and isinstance(wire[2], int):
            key = (wire[0], wire[2])
            if key not in self._files:
                self._files[key] = _main_file_of(*key)
            wire[1] = self._files[key]
        for child in wire[4] if isinstance(wire[4], list) else ():
            self._name_files(child, depth + 1)

    def publish(self, events: Any, now: float | None = None, force: bool = False) -> None:
        """Emit the samples since the last time as one `profile` event (driver thread)."""
        now = time.monotonic() if now is None else now
        if not self._pending or (not force and now < self._next_publish):
            return
        self._next_publish = now + PUBLISH_INTERVAL_S
        with self.lock:
            pending, self._pending = self._pending, {}
            profiles = [self._entry(call_id, root, MAX_EVENT_NODES)
                        for call_id, root in pending.items() if call_id in self.calls]
        if profiles:
            events.emit("profile", interval=SAMPLE_INTERVAL_S, profiles=profiles)

    def _entry(self, call_id: int, root: Node, max_nodes: int) -> dict[str, Any]:
        entry = self.calls[call_id]
        return {"call": call_id, "fn": entry.fn, "module": entry.module,
                "tree": to_wire(root, max_nodes)}

    def snapshot(self) -> dict[str, Any]:
        """The ``history.profile`` field of a join snapshot (docs/protocol.md)."""
        with self.lock:
            return {"interval": SAMPLE_INTERVAL_S,
                    "profiles": [self._entry(c, e.root, MAX_SNAPSHOT_NODES)
                                 for c, e in self.calls.items()]}

    def profile(self, call: Any, pool_name: str, known_calls: dict[int, Any]) -> dict[str, Any]:
        """The tree of one call (an id), of every call of one function, or of all (None),
        merged over workers, as plain dicts; a ValueError names what is there otherwise."""
        with self.lock:
            if call is None:
                chosen = list(self.calls.values())
                label = "all"
            elif isinstance(call, int) and not isinstance(call, bool):
                if call not in self.calls and call not in known_calls:
                    raise ValueError(f"taskscope: pool {pool_name!r} has no call {call}; "
                                     f"{self._choices(known_calls)}")
                chosen = [self.calls[call]] if call in self.calls else []
                label = f"call {call}"
            elif callable(call) or isinstance(call, str):
                chosen = [e for e in self.calls.values() if function_matches(call, e.fn, e.module)]
                label = getattr(call, "__qualname__", None) or str(call)
                if not chosen and not any(function_matches(call, str(c.info.get("fn")),
                                                           str(c.info.get("module")))
                                          for c in known_calls.values()):
                    raise ValueError(f"taskscope: pool {pool_name!r} ran no call of {label!r}; "
                                     f"{self._choices(known_calls)}")
            else:
                raise TypeError(f"taskscope: profile(call=...) takes a call id (int), a "
                                f"function or its name, or None for all; not "
                                f"{type(call).__name__}")
            merged = Node()
            for entry in chosen:
                merge_wire(merged, to_wire(entry.root, MAX_NODES))
        return to_dicts(merged, label)

    def _choices(self, known_calls: dict[int, Any]) -> str:
        rows = {c: e.fn for c, e in self.calls.items()}
        for c, call in known_calls.items():
            rows.setdefault(c, str(call.info.get("fn", "?")))
        if not rows:
            return "no call has run yet."
        shown = [f"{c} ({fn})" for c, fn in sorted(rows.items())[-10:]]
        return f"the calls it knows are {', '.join(shown)}; pass one of their ids or functions."


def _main_file_of(qualname: str, line: int) -> str:
    """The file of ``__main__``'s function (or class's method) `qualname` starting at `line`;
    `DYNAMIC_FILE` when there is none (a closure, or code that is not ours to find)."""
    obj: Any = sys.modules.get("__main__")
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    code = getattr(obj, "__code__", None)
    if code is not None and code.co_firstlineno == line:
        return str(code.co_filename)
    return DYNAMIC_FILE
