"""Per-task events folded into one ``tasks`` event at the source (protocol 1.2).

A map with ``chunksize=1`` makes three events per item (task.queued, task.processing,
task.finished); building, packing, unpacking, checking and applying each cost the pool's
process more than running the item. Consecutive events of one kind, call (and worker) that
carry only the plain fields become one event with columns::

    {"kind": "tasks", "body": {"of": "task.finished", "call": 3, "worker": 1,
                               "state": "released", "was": "processing", "n_erred": 0,
                               "tasks": [41, 42, 43], "n": [1, 1, 1],
                               "start": [...], "end": [...], "nbytes": [...],
                               "longest": [...], "insights": {...the latest...}}}

Only the most recent buffered event is ever extended, so the order of events is kept.
Every record stays (the task stream draws each); `expand` gives the per-task events back,
and `subscribe()` does so by default for readers that want those.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["KIND", "expand_bodies", "extend", "fold"]

KIND = "tasks"
# kind -> (fields shared by every record, fields kept per record); a body with any other
# field (was/retry/lost on a requeue, errors...) travels as an event of its own.
FOLDABLE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "task.queued": ((), ()),
    "task.processing": (("worker",), ()),
    "task.finished": (("worker", "state", "was", "n_erred"), ("start", "end", "nbytes", "longest")),
    "task.released": ((), ()),
}
_PLAIN = {kind: {"call", "task", "n", *shared, *cols} for kind, (shared, cols) in FOLDABLE.items()}
MAX_FOLD = 5000  # records in one event at most (a batch flushes at 2,000 events anyway)


def fold(last: dict[str, Any] | None, kind: str, body: dict[str, Any]
         ) -> bool | dict[str, Any] | None:
    """Add this event to `last` (the newest buffered event) when it can: True. Otherwise
    the body of a new ``tasks`` event holding it, or None if it cannot be folded at all
    (it is then sent as it is)."""
    shape = FOLDABLE.get(kind)
    if shape is None:
        return None
    insights = body.pop("insights", None) if kind == "task.finished" else None
    if body.get("n_erred") or not body.keys() <= _PLAIN[kind]:
        if insights is not None:
            body["insights"] = insights
        return None  # an erred, requeued or otherwise special one: its own event
    shared, cols = shape
    if last is not None and last["kind"] == KIND:
        lb = last["body"]
        if lb["of"] == kind and lb["call"] == body["call"] and len(lb["tasks"]) < MAX_FOLD:
            # (explicit loops: a generator here cost a third of the fold)
            for f in shared:
                if lb[f] != body.get(f):
                    break
            else:
                lb["tasks"].append(body["task"])
                lb["n"].append(body["n"])
                for f in cols:
                    lb[f].append(body.get(f))
                if insights is not None:
                    lb["insights"] = insights
                return True
    new: dict[str, Any] = {"of": kind, "call": body["call"], "tasks": [body["task"]],
                           "n": [body["n"]]}
    for f in shared:
        new[f] = body.get(f)
    for f in cols:
        new[f] = [body.get(f)]
    if insights is not None:
        new["insights"] = insights
    return new


def extend(last: dict[str, Any], body: dict[str, Any]) -> bool:
    """Append the records of `body` (a ``tasks`` event's body, built per message by the
    driver: EventPublisher.emit_tasks) to `last`, the newest buffered event, when it is a
    ``tasks`` event of the same kind, call and shared fields: True if it did."""
    if last["kind"] != KIND:
        return False
    lb = last["body"]
    kind = body["of"]
    if lb["of"] != kind or lb["call"] != body["call"] \
            or len(lb["tasks"]) + len(body["tasks"]) > MAX_FOLD:
        return False
    shared, cols = FOLDABLE[kind]
    for f in shared:
        if lb[f] != body[f]:
            return False
    lb["tasks"] += body["tasks"]
    lb["n"] += body["n"]
    for f in cols:
        lb[f] += body[f]
    if "insights" in body:
        lb["insights"] = body["insights"]
    return True


def expand_bodies(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The per-task events a ``tasks`` event stands for, as (kind, body), in order."""
    kind = body.get("of")
    shape = FOLDABLE.get(kind) if isinstance(kind, str) else None
    tasks, ns = body.get("tasks"), body.get("n")
    if shape is None or not isinstance(tasks, list) or not isinstance(ns, list) \
            or len(tasks) != len(ns):
        return  # a kind this version does not know (a newer minor): ignored
    shared, cols = shape
    common = {f: body.get(f) for f in shared}
    if "insights" in body:
        common["insights"] = body["insights"]
    columns = [(f, body.get(f)) for f in cols]
    columns = [(f, c) for f, c in columns if isinstance(c, list) and len(c) == len(tasks)]
    call = body.get("call")
    for i, task in enumerate(tasks):
        out = {"call": call, "task": task, "n": ns[i], **common}
        for f, c in columns:
            out[f] = c[i]
        yield kind, out
