"""The static snapshot (kernel_ext/snapshot.py): complete, bounded, inert, and drawn with the
same colours, labels and number formats as the JS panes."""
from __future__ import annotations

import array
import json
import random
import re
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from taskscope import _format as fmt
from taskscope import theme
from taskscope._snapshot_svg import MAX_RECTS, stream_rects
from taskscope.snapshot import BUDGET_BYTES, MAX_SNAPSHOT_ERRORS, snapshot_html
from taskscope.state import COUNT_KEYS

REPO = Path(__file__).resolve().parents[2]
CASES = json.loads((Path(__file__).parent / "fixtures" / "format-cases.json").read_text())
PORTS = {"count": fmt.count, "bytes": fmt.bytes_, "duration": fmt.duration, "clock": fmt.clock,
         "rate": fmt.rate, "eta": fmt.eta, "cpu": fmt.cpu, "percent": fmt.percent}


@pytest.mark.parametrize("name", sorted(CASES))
def test_python_formats_match_the_panes(name: str) -> None:
    """Golden cases written from js/src/format.js (js/dev/make-format-cases.mjs; the JS test
    fails when they are stale): the snapshot prints numbers exactly as the panes do."""
    got = [(x, PORTS[name](x)) for x, _ in CASES[name]]
    assert got == [tuple(c) for c in CASES[name]]


def test_theme_module_for_the_js_is_current() -> None:
    path = REPO / "js" / "src" / "theme-data.js"
    assert path.read_text(encoding="utf-8") == theme.js_module(), \
        "js/src/theme-data.js is stale: python -m taskscope.theme > js/src/theme-data.js"
    js_colors = (REPO / "js" / "src" / "colors.js").read_text()
    assert "#4e79a7" not in js_colors, "colors.js must take its palette from theme-data.js"


def _counts(**kw: int) -> dict[str, int]:
    return {k: kw.get(k, 0) for k in COUNT_KEYS}


def big_state(n_workers: int = 64, n_calls: int = 50, n_errors: int = 50) -> dict[str, Any]:
    """A worst case: every list at its bound, long hostile strings everywhere."""
    evil = "<script>alert('x')</script>&\"'"
    calls = [{"id": i, "api": "map", "fn": f"fn_{i % 50}{evil}", "module": "__main__",
              "file": "/x.py", "line": i, "callsite": {"file": "<cell>", "line": 1,
                                                        "function": "<module>", "code": evil},
              "total": 1000, "counts": _counts(released=900, erred=50, processing=50),
              "submitted": 1000, "started": 10.0 + i, "ended": None, "rate": 123.4,
              "eta": 3.0, "color": i % 50, "status": "running"} for i in range(n_calls)]
    functions = [{"key": f"__main__.fn_{i}", "name": f"fn_{i}{evil}", "color": i,
                  "counts": _counts(released=900, erred=100), "submitted": 1000, "time": 12.5}
                 for i in range(50)]
    workers = [{"id": i, "pid": 1000 + i, "status": "busy" if i % 7 else "died",
                "current": "fn_1", "tasks_done": 12345, "cpu": 99.0, "rss": 2**30 + i,
                "managed": 2**28, "memory_limit": 2**31,
                "insights": {"startup": 0.1, "init": 0.0, "waiting": 1.0, "working": 50.0,
                             "exit": 0.0},
                "utilisation": 0.98, "longest": [{"fn": "fn_1", "duration": 2.0, "arg": evil * 20}],
                "started": 1.0, "ended": None, "exitcode": -9 if i % 7 == 0 else None,
                "signal": 9 if i % 7 == 0 else None, "cause": None,
                "exit_message": None} for i in range(n_workers)]
    errors = [{"id": i, "call": 1, "fn": "fn_1", "worker": 1, "pid": 1001,
               "exc_type": "ValueError", "message": evil * 50, "arg": evil * 20,
               "traceback": ("Traceback (most recent call last):\n" + "  line\n" * 2000)[:8000],
               "index": i, "ts": 20.0} for i in range(n_errors)]
    return {"v": [1, 0], "seq": 1, "gaps": 0, "now": 100.0,
            "pool": {"id": "p", "name": f"pool{evil}", "pid": 1, "status": "running",
                     "n_workers": n_workers, "started": 1.0, "ended": None, "memory_limit": None},
            "totals": {"submitted": 50_000, "done": 45_000, "erred": 2_500, "cancelled": 0},
            "calls": calls, "functions": functions, "workers": workers, "errors": errors,
            "errors_total": 2_500, "stream_total": 1_000_000, "resources_total": 3600}


def ring_bytes(records: list[tuple[float, ...]]) -> bytes:
    return array.array("d", [v for r in records for v in r]).tobytes()


def random_stream(n: int, n_workers: int, seed: int = 1) -> list[tuple[float, ...]]:
    rng = random.Random(seed)
    out, t = [], [1.0] * n_workers
    for i in range(n):
        w = i % n_workers
        d = rng.expovariate(1 / 0.004)
        start = t[w] + rng.random() * 0.001
        t[w] = start + d
        out.append((start, start + d, float(w), float(rng.randrange(50)), 1.0,
                    1.0 if rng.random() < 0.001 else 0.0))
    return out


def test_worst_case_dashboard_is_bounded_and_inert() -> None:
    state = big_state()
    stream = ring_bytes(random_stream(100_000, 64))
    resources = ring_bytes([(1.0 + i * 0.5, 50.0 * (i % 10), 2.0**30 * 64, 1000.0, 2.0**28)
                            for i in range(3600)])
    t0 = time.perf_counter()
    html = snapshot_html(state, stream, resources)
    took = time.perf_counter() - t0
    size = len(html.encode())
    print(f"\n[snapshot] worst case: {size} bytes, drawn in {took * 1000:.0f} ms")
    assert size < BUDGET_BYTES, size
    # Nothing that runs, nothing a sanitiser removes as a whole, nothing from the network.
    low = html.lower()
    for bad in ("<script", "<style", "<svg", "<iframe", "javascript:", "onerror", "onload",
                "http://", "https://"):
        assert bad not in low.replace("http://www.w3.org/2000/svg", ""), bad
    # Hostile names and messages are escaped, also inside the SVG images.
    assert "alert(&#x27;x&#x27;)" in html or "alert(&#39;x&#39;)" in html
    for uri in re.findall(r'src="data:image/svg\+xml,([^"]*)"', html):
        assert "<script" not in urllib.parse.unquote(uri).lower()
    # Every pane is there, errors are cut to the newest MAX_SNAPSHOT_ERRORS with the count.
    for pane in ("progress", "task-stream", "memory", "resources", "workers", "errors"):
        assert f"tss-pane-{pane}" in html
    assert html.count('class="tss-err"') == MAX_SNAPSHOT_ERRORS
    assert "2\u202f500" in html  # errors_total, formatted as the panes do
    assert html.count('class="tss-worker"') == 12  # MAX_SNAPSHOT_WORKERS, with "of 64"
    assert "the first 12 of 64" in html


def flat(records: list[tuple[float, ...]]) -> list[float]:
    return [v for r in records for v in r]


def test_stream_rects_merge_and_bound() -> None:
    records = random_stream(50_000, 8)
    t0 = min(r[0] for r in records)
    t1 = max(r[1] for r in records)
    workers, rects = stream_rects(flat(records), t0, t1)
    assert workers == list(range(8))
    assert 0 < len(rects) <= MAX_RECTS
    # Rectangles of one lane never overlap and stay inside the drawing.
    for lane in range(8):
        spans = sorted((x0, x1) for ln, x0, x1, _ in rects if ln == lane)
        assert all(a1 <= b0 for (_, a1), (b0, _) in zip(spans, spans[1:], strict=False))
        assert spans[0][0] >= 0 and spans[-1][1] <= 880
    # One erred task among many shows, however short.
    records = [(0.0, 10.0, 0.0, 1.0, 1.0, 0.0), (5.0, 5.0001, 0.0, 1.0, 1.0, 1.0)]
    _, rects = stream_rects(flat(records), 0.0, 10.0)
    assert any(c == theme.THEME["erred"] for *_, c in rects), rects
    # Idle time stays a gap.
    records = [(0.0, 1.0, 0.0, 2.0, 1.0, 0.0), (9.0, 10.0, 0.0, 2.0, 1.0, 0.0)]
    _, rects = stream_rects(flat(records), 0.0, 10.0)
    assert len(rects) == 2 and rects[0][2] < 100 < 780 < rects[1][1], rects


def test_compact_bar_and_empty_states() -> None:
    state = big_state(n_workers=2, n_calls=3, n_errors=0)
    bar = snapshot_html(state, call=2)
    assert 'class="taskscope-static tss-compact"' in bar
    assert 'data-done="900" data-total="1000"' in bar and 'data-status="running"' in bar
    assert len(bar.encode()) < 4000
    gone = snapshot_html(state, call=99)
    assert "no longer kept" in gone
    empty = snapshot_html({"pool": {"name": "p", "status": "starting"}})
    assert "No calls yet" in empty and "No workers yet" in empty and "No errors" in empty
    only = snapshot_html(state, panes=["errors"])
    assert "tss-pane-errors" in only and "tss-pane-memory" not in only


def test_every_pane_of_the_biggest_run_still_fits_the_budget() -> None:
    """The six panes, the graph (50 task groups), the profile (20 wide calls) and 50
    functions' held memory: the tables' rows are halved so the whole stays in budget."""
    from test_profile_trees import largest_profile_state
    from test_state_graph import Feed

    state = big_state()
    state["memory_by_function"] = [
        {"key": f"m.f{i}", "name": f"f{i}<b>", "color": i, "bytes": (i + 1) * 2**20,
         "results": i + 1, "workers": {"0": (i + 1) * 2**20}} for i in range(50)]
    ps = largest_profile_state()
    state["profile"], state["pool"]["profile"] = ps.to_json(), True
    feed, tid = Feed(), 0
    for c in range(1, 61):
        feed.call(c, f"step_with_a_rather_long_function_name_{c}")
        for _ in range(120):
            tid += 1
            feed("task.waiting", call=c, task=tid, n=1, deps=[tid - 120] if tid > 120 else [])
    state["graph"] = feed.st.to_json()["graph"]
    stream = ring_bytes(random_stream(100_000, 64))
    resources = ring_bytes([(1.0 + i * 0.5, 50.0, 2.0**30, 1000.0, 2.0**28) for i in range(3600)])
    panes = [p["name"] for p in theme.THEME["panes"]]
    html = snapshot_html(state, stream, resources, panes=panes)
    assert len(html.encode()) <= BUDGET_BYTES, len(html.encode())
    for pane in panes:
        assert f"tss-pane-{pane}" in html
    assert html.count('class="tss-err"') == 3  # the tight limits: half the error cards
    # Fewer panes of the same run keep the full rows (they fit as they are).
    few = snapshot_html(state, stream, resources, panes=["progress", "errors", "graph"])
    assert few.count('class="tss-err"') == MAX_SNAPSHOT_ERRORS
    assert len(snapshot_html(state, stream, resources).encode()) <= BUDGET_BYTES
