"""Per-task events folded into `tasks` events at the source (pool/coalesce.py, protocol 1.2):
the order and every record are kept, special events travel alone, and the State applies a
folded stream exactly as it applies the per-task events it stands for."""
from __future__ import annotations

import random
from typing import Any

from taskscope.pool import coalesce
from taskscope.pool.protocol import Event, check_event
from taskscope.state import State


def fold_all(raw: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """What EventPublisher.emit does with a sequence of events."""
    out: list[dict[str, Any]] = []
    for kind, body in raw:
        folded = coalesce.fold(out[-1] if out else None, kind, dict(body))
        if folded is True:
            continue
        out.append({"kind": coalesce.KIND, "body": folded} if folded is not None
                   else {"kind": kind, "body": dict(body)})
    return [(e["kind"], e["body"]) for e in out]


def expand_all(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for kind, body in events:
        out.extend(coalesce.expand_bodies(body) if kind == coalesce.KIND else [(kind, body)])
    return out


def a_map(call: int, n_tasks: int, worker_of: Any, fail: set[int]) -> list[tuple[str, dict[str, Any]]]:
    ev: list[tuple[str, dict[str, Any]]] = [
        ("call.started", {"call": call, "api": "map", "fn": "f", "module": "m", "file": "x.py",
                          "line": 1, "callsite": None, "total": n_tasks})]
    for t in range(1, n_tasks + 1):
        ev.append(("task.queued", {"call": call, "task": t, "n": 1}))
    for t in range(1, n_tasks + 1):
        ev.append(("task.processing", {"call": call, "task": t, "worker": worker_of(t), "n": 1}))
    for t in range(1, n_tasks + 1):
        erred = 1 if t in fail else 0
        ev.append(("task.finished", {"call": call, "task": t, "worker": worker_of(t), "n": 1,
                                     "n_erred": erred, "start": t * 1.0, "end": t + 0.5,
                                     "state": "released", "nbytes": 10, "was": "processing",
                                     "insights": {"working": t * 0.1}, "longest": None}))
    ev.append(("call.ended", {"call": call, "status": "erred" if fail else "done"}))
    return ev


def test_folding_keeps_every_record_in_order() -> None:
    raw = a_map(1, 50, lambda t: t // 10 % 2, {17})  # messages of ten tasks per worker
    folded = fold_all(raw)
    assert len(folded) < len(raw) / 4  # many per-task events per folded one
    again = expand_all(folded)
    strip = [(k, {f: v for f, v in b.items() if f != "insights"}) for k, b in raw]
    assert [(k, {f: v for f, v in b.items() if f != "insights"}) for k, b in again] == strip


def test_special_events_travel_alone() -> None:
    requeued = ("task.queued", {"call": 1, "task": 3, "n": 1, "was": "processing", "retry": True})
    erred = ("task.finished", {"call": 1, "task": 4, "worker": 0, "n": 1, "n_erred": 1,
                               "start": 0.0, "end": 1.0, "state": "erred", "nbytes": 0,
                               "insights": {}, "was": "processing"})
    assert fold_all([requeued, erred]) == [requeued, erred]


def test_the_state_applies_folded_events_as_the_events_they_stand_for() -> None:
    rng = random.Random(3)
    raw = [("pool.started", {"id": "p", "name": "p", "pid": 1, "n_workers": 3,
                             "start_method": "forkserver", "memory_limit": None})]
    for call in (1, 2):
        raw += a_map(call, 200, lambda t: rng.randrange(3), {5, 77} if call == 2 else set())
    folded, plain = State(), State()
    for seq, (kind, body) in enumerate(fold_all(raw), start=1):
        folded.apply(check_event({"kind": kind, "seq": seq, "ts": 1.0 + seq, "src": "driver",
                                  "body": body}))
    seq = 0
    for kind, body in fold_all(raw):  # the same events, expanded as subscribe() does
        seq += 1
        for k, b in (coalesce.expand_bodies(body) if kind == coalesce.KIND else [(kind, body)]):
            plain.apply(Event(k, seq, 1.0 + seq, "driver", b))
    assert folded.totals == plain.totals == {"submitted": 400, "done": 398, "erred": 2,
                                             "cancelled": 0}
    assert folded.stream.total == plain.stream.total == 400
    assert folded.stream.since(0) == plain.stream.since(0)
    assert folded.to_json() == plain.to_json()


def test_an_unknown_folded_kind_is_ignored() -> None:
    assert list(coalesce.expand_bodies({"of": "task.teleported", "call": 1, "tasks": [1],
                                        "n": [1]})) == []
    assert list(coalesce.expand_bodies({"of": "task.queued", "call": 1, "tasks": [1, 2],
                                        "n": [1]})) == []  # malformed: ignored, never raised


def a_graph(call: int, n_tasks: int, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """Submitted tasks: queued, processing and finished in memory (some with a `longest`),
    then released; with lost tasks whose processing event never arrived."""
    ev: list[tuple[str, dict[str, Any]]] = [
        ("call.started", {"call": call, "api": "submit", "fn": "g", "module": "m",
                          "file": "x.py", "line": 1, "callsite": None, "total": None})]
    ids = range(1000 * call, 1000 * call + n_tasks)
    ev += [("task.queued", {"call": call, "task": t, "n": 1}) for t in ids]
    ev += [("task.processing", {"call": call, "task": t, "worker": t // 25 % 2, "n": 1})
           for t in ids if t % 7]  # (every 7th: its processing event was missed)
    for t in ids:
        ev.append(("task.finished", {
            "call": call, "task": t, "worker": t // 25 % 2, "n": 1, "n_erred": 0,
            "start": t * 0.01, "end": t * 0.01 + rng.random(), "state": "memory",
            "nbytes": 8, "was": "processing", "insights": {"working": rng.random()},
            "longest": [rng.random(), f"x={t}"] if t % 3 == 0 else None}))
    ev += [("task.released", {"call": call, "task": t, "n": 1}) for t in ids]
    return ev


def test_the_state_applies_folded_graph_events_whole_as_one_by_one() -> None:
    rng = random.Random(5)
    raw = [("pool.started", {"id": "p", "name": "p", "pid": 1, "n_workers": 2,
                             "start_method": "forkserver", "memory_limit": None})]
    raw += a_graph(1, 300, rng) + a_map(2, 300, lambda t: t // 40 % 2, {9})
    folded_events = fold_all(raw)
    assert sum(k == coalesce.KIND for k, _ in folded_events) < len(folded_events)
    whole, one_by_one = State(), State()
    for seq, (kind, body) in enumerate(folded_events, start=1):
        ts = 1.0 + 0.01 * seq  # timestamps that move the rate window along
        whole.apply(Event(kind, seq, ts, "driver", body))
        for k, b in (coalesce.expand_bodies(body) if kind == coalesce.KIND else [(kind, body)]):
            one_by_one.apply(Event(k, seq, ts, "driver", b))
    assert whole.totals == one_by_one.totals
    assert whole.totals["done"] == 300 + 299
    assert whole.stream.since(0) == one_by_one.stream.since(0)
    assert whole._processing == one_by_one._processing
    assert whole._rate == one_by_one._rate  # (the progress rate: the same window)
    assert whole.graph.version == one_by_one.graph.version
    status = {c: (v["status"], v["ended"], v["eta"]) for c, v in whole.calls.items()}
    assert status == {c: (v["status"], v["ended"], v["eta"]) for c, v in one_by_one.calls.items()}
    def nodes(state: State) -> dict[int, tuple[Any, ...]]:
        return {t: tuple(getattr(n, f) for f in n.__slots__) for t, n in state.graph.nodes.items()}

    assert nodes(whole) == nodes(one_by_one) and len(nodes(whole)) == 300
    assert whole.to_json() == one_by_one.to_json()
    assert any(w["longest"] for w in whole.to_json()["workers"])


def test_built_per_message_the_events_are_those_folding_gives() -> None:
    """The driver builds task.processing/finished per message (EventPublisher.emit_tasks,
    coalesce.extend): the same buffered events as folding each task's event."""
    raw = a_map(1, 30, lambda t: (t - 1) // 10 % 2, set())[1:-1]  # one worker a message
    by_fold = fold_all(raw)
    buffer: list[dict[str, Any]] = []
    for kind in ("task.queued", "task.processing", "task.finished"):
        bodies = [b for k, b in raw if k == kind]
        for i in range(0, len(bodies), 5):  # messages of five tasks
            part = bodies[i:i + 5]
            shared, cols = coalesce.FOLDABLE[kind]
            body = {"of": kind, "call": 1, **{f: part[0].get(f) for f in shared},
                    "tasks": [b["task"] for b in part], "n": [b["n"] for b in part],
                    **{f: [b.get(f) for b in part] for f in cols}}
            if kind == "task.finished":
                body["insights"] = part[-1]["insights"]
            if not (buffer and coalesce.extend(buffer[-1], body)):
                buffer.append({"kind": coalesce.KIND, "body": body})
    assert [(e["kind"], e["body"]) for e in buffer] == by_fold


def test_a_grouped_graph_pane_applies_folded_queued_events_whole_as_one_by_one() -> None:
    # 6,000 live submitted tasks: past MAX_NODES the graph pane draws task groups; once they
    # are released, the next call's first task finds itself alone and single tasks return.
    rng = random.Random(7)
    raw = [("pool.started", {"id": "p", "name": "p", "pid": 1, "n_workers": 2,
                             "start_method": "forkserver", "memory_limit": None})]
    first = a_graph(1, 6000, rng)
    at = next(i for i, (k, _) in enumerate(first) if k == "task.processing")
    first[at:at] = [("task.processing", {"call": 1, "task": t, "worker": 0, "n": 1})
                    for t in range(1001, 7000, 7)]  # (none missed: none left live)
    raw += first + a_graph(8, 300, rng)
    folded_events = fold_all(raw)
    whole, one_by_one = State(), State()
    grouped_seen = False
    for seq, (kind, body) in enumerate(folded_events, start=1):
        ts = 1.0 + 0.01 * seq
        whole.apply(Event(kind, seq, ts, "driver", body))
        for k, b in (coalesce.expand_bodies(body) if kind == coalesce.KIND else [(kind, body)]):
            one_by_one.apply(Event(k, seq, ts, "driver", b))
        assert whole.graph.grouped == one_by_one.graph.grouped
        grouped_seen = grouped_seen or whole.graph.grouped
    assert grouped_seen and not whole.graph.grouped  # (both ways were taken)
    assert whole.totals == one_by_one.totals and whole.totals["submitted"] == 6300
    assert whole.graph.version == one_by_one.graph.version
    assert set(whole.graph.nodes) == set(one_by_one.graph.nodes) and len(whole.graph.nodes) == 300
    assert whole.to_json() == one_by_one.to_json()
