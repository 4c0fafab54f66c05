"""Memory by function, transfers and saturation (issue 14, items 3-5) without processes:
the driver's bookkeeping (pool/memflow.py), the State's reducers (kernel_ext/state_memflow.py)
and the static snapshot's parts (kernel_ext/_snapshot_memflow.py)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from taskscope._snapshot_memflow import bin_saturation
from taskscope.pool.memflow import FLAG_BYTES, FLAG_TRANSFER, MemFlow
from taskscope.pool.protocol import Event
from taskscope.snapshot import snapshot_html
from taskscope.state import State

sys.path.insert(0, str(Path(__file__).parent))
from test_snapshot import BUDGET_BYTES, big_state, random_stream, ring_bytes  # noqa: E402

CASE = json.loads((Path(__file__).parent / "fixtures" / "saturation-case.json").read_text())


def _task(fn: str, nbytes: int, module: str = "__main__") -> Any:
    return SimpleNamespace(nbytes=nbytes, call=SimpleNamespace(info={"fn": fn, "module": module}))


def test_driver_counts_held_bytes_per_worker_and_function() -> None:
    m = MemFlow()
    assert m.sample_rows({0, 1}) is None  # a pool that keeps nothing sends no field
    a, b, c = _task("load", 1000), _task("load", 500), _task("fit", 70)
    m.hold(0, a)
    m.hold(0, b)
    m.hold(1, c)
    m.hold(1, a)  # a copy relayed to worker 1 with a dependent
    rows = sorted(m.sample_rows({0, 1}) or [])
    assert rows == [[0, "__main__.load", 1500, 2], [1, "__main__.fit", 70, 1],
                    [1, "__main__.load", 1000, 1]]
    m.unhold(0, a)
    m.unhold(0, b)
    m.forget(1)
    assert m.sample_rows({0, 1}) == []  # once empty: the State clears its rows
    assert m.sample_rows({0, 1}) is None  # then nothing more is said
    m.unhold(3, a)  # a worker it never saw: ignored


def test_fetch_makes_one_transfer_record_per_receiving_worker() -> None:
    m = MemFlow()
    assert m.fetch_done(5, 100, [(1, 3)]) == []  # an answer nobody asked for
    m.fetch_sent(5, holder=0)
    recs = m.fetch_done(5, 2_000_000, [(1, 3), (1, 3), (2, 4)])
    assert [r[2:] for r in recs] == [[1.0, 3.0, 2e6, float(FLAG_TRANSFER | FLAG_BYTES)],
                                     [2.0, 4.0, 2e6, float(FLAG_TRANSFER | FLAG_BYTES)]]
    assert all(r[1] >= r[0] for r in recs)
    m.fetch_sent(6, holder=0)
    m.fetch_dropped(6)
    assert m.fetch_done(6, 1, [(1, 3)]) == []


def _events(*items: tuple[str, float, dict[str, Any]]) -> list[Event]:
    return [Event(kind, i + 1, ts, "driver", body) for i, (kind, ts, body) in enumerate(items)]


def _pool_events() -> list[tuple[str, float, dict[str, Any]]]:
    call = {"api": "submit", "module": "__main__", "file": "x.py", "line": 1, "callsite": None,
            "total": None}
    return [
        ("pool.started", 1.0, {"id": "p", "name": "p", "pid": 1, "n_workers": 2,
                               "start_method": "forkserver", "memory_limit": None}),
        ("worker.started", 1.0, {"worker": 0, "pid": 10}),
        ("worker.started", 1.0, {"worker": 1, "pid": 11}),
        ("call.started", 1.1, {**call, "call": 1, "fn": "load"}),
        ("call.started", 1.1, {**call, "call": 2, "fn": "fit"}),
    ]


def test_state_memory_by_function_adds_up_to_managed_and_follows_samples() -> None:
    st = State()
    held = [[0, "__main__.load", 3_000_000, 1], [1, "__main__.load", 2_000_000, 1],
            [0, "__main__.fit", 17, 1], [0, "some.gone_fn", 5, 1], ["bad"], [1, "x", "NaN", 1]]
    st.apply_all(_events(*_pool_events(), (
        "worker.samples", 2.0, {"samples": [[0, 1.0, 9e7, 3_000_022], [1, 1.0, 9e7, 2_000_000]],
                                "held": held})))
    rows = st.to_json()["memory_by_function"]
    assert [(r["name"], r["bytes"], r["results"]) for r in rows] == [
        ("load", 5_000_000, 2), ("fit", 17, 1), ("gone_fn", 5, 1)]
    assert rows[0]["workers"] == {"0": 3_000_000, "1": 2_000_000}
    assert rows[0]["color"] == st.functions["__main__.load"]["color"]
    assert sum(r["bytes"] for r in rows) == sum(w["managed"] for w in st.to_json()["workers"])
    # The next sample of worker 0 replaces its rows; worker 1 exiting drops its own.
    st.apply_all(_events(("worker.samples", 2.5, {"samples": [[0, 1.0, 9e7, 17]],
                                                  "held": [[0, "__main__.fit", 17, 1]]}),
                         ("worker.exited", 3.0, {"worker": 1, "pid": 11, "exitcode": 0,
                                                 "signal": None, "reason": "died",
                                                 "insights": {}})))
    assert [(r["name"], r["bytes"]) for r in st.to_json()["memory_by_function"]] == [("fit", 17)]
    # A sample without the field (a source that does not tell) changes nothing.
    st.apply_all(_events(("worker.samples", 3.5, {"samples": [[0, 1.0, 9e7, 17]]})))
    assert len(st.to_json()["memory_by_function"]) == 1


def test_state_draws_a_transfer_bar_with_its_bytes_and_marks_busy_workers() -> None:
    st = State()
    st.apply_all(_events(
        *_pool_events(),
        ("task.processing", 2.0, {"call": 2, "task": 7, "worker": 1, "n": 1}),
        ("task.stream", 2.1, {"records": [[2.0, 2.01, 1, 2, 2_000_121, FLAG_TRANSFER | FLAG_BYTES]]}),
    ))
    w1 = next(w for w in st.to_json()["workers"] if w["id"] == 1)
    assert w1["busy_since"] == 2.0 and w1["status"] == "busy"
    _, raw = st.stream.since(0)
    import array
    rec = array.array("d", raw).tolist()
    assert rec == [2.0, 2.01, 1.0, float(st.functions["__main__.fit"]["color"]), 2_000_121.0, 36.0]
    st.apply_all(_events(("task.finished", 2.5, {
        "call": 2, "task": 7, "worker": 1, "n": 1, "n_erred": 0, "start": 2.02, "end": 2.4,
        "state": "memory", "nbytes": 17, "insights": {}, "was": "processing"})))
    w1 = next(w for w in st.to_json()["workers"] if w["id"] == 1)
    assert w1["busy_since"] is None and w1["status"] == "idle"


def test_saturation_binning_matches_the_js_golden_case() -> None:
    flat = [float(v) for r in CASE["records"] for v in r]
    ids, series, slots = bin_saturation(flat, CASE["workers"], CASE["t0"], CASE["t1"],
                                        CASE["bins"], CASE["now"])
    assert ids == CASE["expect_ids"]
    assert [[round(v, 9) for v in s] for s in series] == CASE["expect"]
    assert slots == CASE["expect_slots"]


def test_snapshot_shows_memory_by_function_and_saturation_within_its_bound() -> None:
    state = big_state()
    evil = "<img src=x onerror=alert(1)>"
    state["memory_by_function"] = [
        {"key": f"m.f{i}{evil}", "name": f"f{i}{evil}", "color": i, "bytes": (i + 1) * 2**20,
         "results": i + 1, "workers": {"0": (i + 1) * 2**20}} for i in range(50)]
    stream = ring_bytes(random_stream(100_000, 64))
    resources = ring_bytes([(1.0 + i * 0.5, 50.0, 2.0**30, 1000.0, 2.0**28) for i in range(3600)])
    html = snapshot_html(state, stream, resources)
    assert len(html.encode()) < BUDGET_BYTES, len(html.encode())
    assert html.count('class="tss-memfn-row"') == 6 and "44 more" in html
    assert "onerror=alert" not in html
    assert 'class="tss-saturation"' in html and 'data-slots="64"' in html
    # A small pool: a band per worker, the mean busy share as text.
    small = {"now": 4.0, "pool": {"status": "running", "n_workers": 3},
             "workers": CASE["workers"], "memory_by_function": []}
    res = ring_bytes([(0.0, 0.0, 0.0, 0.0, 0.0), (4.0, 0.0, 0.0, 0.0, 0.0)])
    recs = [tuple(float(v) for v in r) for r in CASE["records"]]
    html = snapshot_html(small, ring_bytes(recs), res, panes=["resources", "memory"])
    assert "3 workers, 3 slots" in html and "37.5%" in html  # (1+.5+.5+.5+1+1)/4 bins/3 slots
    assert "tss-memfn" not in html  # nothing held: no section
