"""The State's profiles: `profile` events (protocol 1.4) merged into one tree per call.

Pure, like state.py. The trees are the workers' stack samples (pool/profiler.py), merged
with the same code the driver uses (`merge_wire`); what views draw is `to_json()`:

    {"interval": 0.01, "files": ["/x/nb.py", ...],
     "calls": [{"call": 7, "fn": "outer", "module": "__main__", "samples": 812,
                "tree": ["", 0, 0, 812, [["outer", 0, 3, 812, [...]], ...]]}]}

a node being ``[name, file index, line, count, children]``: file paths, long and repeated
on every node, are listed once. The JSON is resent with the State several times a second,
so it is cut to what a flame graph can show (JSON_NODES nodes per call, none thinner than
JSON_MIN_SHARE of its call) and rebuilt only when a profile changed.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from taskscope.pool.profiler import SAMPLE_INTERVAL_S, Node, merge_wire, prune, to_wire, wire_total

__all__ = ["ProfileState"]

MAX_CALLS = 20  # calls whose profiles a view keeps (the newest)
MAX_NODES = 2000  # per call, as the driver's store
JSON_NODES = 300  # per call in the State's JSON: far more than a pane can label
JSON_MIN_SHARE = 0.002  # thinner than 2 px of a 1,000 px flame graph: not sent


class ProfileState:
    def __init__(self) -> None:
        self.calls: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self.interval = SAMPLE_INTERVAL_S
        self.version = 0
        self._json: tuple[int, dict[str, Any]] | None = None

    def _call(self, b: dict[str, Any]) -> dict[str, Any] | None:
        call_id = b.get("call")
        if not isinstance(call_id, int):
            return None
        entry = self.calls.get(call_id)
        if entry is None:
            entry = self.calls[call_id] = {"fn": str(b.get("fn", "")),
                                           "module": str(b.get("module", "")), "root": Node()}
            while len(self.calls) > MAX_CALLS:
                self.calls.popitem(last=False)
        return entry

    def apply(self, body: dict[str, Any]) -> None:
        """A `profile` event: the samples since the previous one, per call."""
        self.interval = float(body.get("interval") or self.interval)
        for b in body.get("profiles") or ():
            entry = self._call(b) if isinstance(b, dict) else None
            if entry is not None:
                merge_wire(entry["root"], b.get("tree"))
                if entry["root"].count and entry["root"].size() > 2 * MAX_NODES:
                    entry["root"] = prune(entry["root"], MAX_NODES)
        self.version += 1

    def adopt(self, h: dict[str, Any]) -> None:
        """A join snapshot's ``history.profile``: a call's kept tree replaces ours when it
        has more samples (we joined late); one we watched from the start is kept."""
        self.interval = float(h.get("interval") or self.interval)
        for b in h.get("profiles") or ():
            if not isinstance(b, dict) or not isinstance(b.get("call"), int):
                continue
            known = self.calls.get(b["call"])
            if known is not None and known["root"].count >= wire_total(b.get("tree")):
                continue
            self.calls.pop(b["call"], None)
            entry = self._call(b)
            if entry is not None:
                merge_wire(entry["root"], b.get("tree"))
        self.version += 1

    def to_json(self) -> dict[str, Any]:
        if self._json is not None and self._json[0] == self.version:
            return self._json[1]
        files: dict[str, int] = {}
        calls = []
        for call_id, entry in self.calls.items():
            root = entry["root"]
            min_count = root.count * JSON_MIN_SHARE
            wire = to_wire(root, JSON_NODES)
            calls.append({"call": call_id, "fn": entry["fn"], "module": entry["module"],
                          "samples": root.count, "tree": _indexed(wire, files, min_count)})
        out = {"interval": self.interval, "files": list(files), "calls": calls}
        self._json = (self.version, out)
        return out


def _indexed(node: list[Any], files: dict[str, int], min_count: float) -> list[Any]:
    """A wire node with its file as an index into `files`, children under `min_count` cut."""
    name, file, line, count, children = node
    index = files.setdefault(file, len(files))
    return [name, index, line, count,
            [_indexed(c, files, min_count) for c in children if c[3] >= min_count]]
