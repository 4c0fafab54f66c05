"""The graph pane (js/src/graph.js) in Debian's Chromium: live on the pop-out page, and a
20,000-node graph's frame time.

1. A real `Pool(2)` in this process registers in the JupyterLab server's runtime dir; the
   pop-out page (`/taskscope/pools/<id>?panes=graph`, the server extension's websocket)
   draws the graph of a diamond, a slow chain and a failing input with its dependent while
   they run. The test clicks nodes on the canvas (where the pane says it drew them) and
   reads the details: function, key, state, worker, duration, argument, error. Then a
   10,000-leaf tree (19,999 tasks) turns the pane to task groups (past 5,000 nodes).
2. An offline report (reports.py's page, the same bundle) of a State holding 20,000 single
   tasks (MAX_NODES raised for the test, the events fed through the real State): wheel
   zooms, one per animation frame, each frame's drawing timed with performance.now()
   inside requestAnimationFrame; the median and 95th percentile must stay under 16 ms.

Screenshots: tests/browser/screenshots/graph-*.png (look at them).
"""
from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from taskscope import Pool, TaskError
from taskscope import reports, state_graph
from taskscope.pool.protocol import Event
from taskscope.state import State

pytestmark = [pytest.mark.browser]

SHOTS = Path(os.environ.get("TASKSCOPE_SHOTS", Path(__file__).parent / "screenshots"))
FRAME_BUDGET_MS = 16.0
BIG = 20_000


def inc(x: int) -> int:
    return x + 1


def add(a: int, b: int) -> int:
    return a + b


def slow(x: int, s: float = 1.5) -> int:
    time.sleep(s)
    return x


def explode(x: int) -> int:
    raise ValueError(f"cannot use {x}")


def _shoot(page: Any, name: str, locator: Any = None) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    (locator or page).screenshot(path=str(path))
    return path


def _click_node(page: Any, node_id: int) -> dict[str, str]:
    """Click where the pane drew `node_id`; returns the details it then shows."""
    canvas = page.locator("canvas.ts-graph-canvas")
    pos = canvas.evaluate(f"(c) => c.taskscopeGraph.center({node_id})")
    assert pos is not None, f"node {node_id} is not drawn"
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    page.wait_for_selector(f".ts-graph-details[data-node='{node_id}']", timeout=5000)
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        '.ts-graph-details .ts-graph-field')].map((f) => [f.dataset.field,
        f.querySelector('.ts-graph-v').textContent]))""")


def _graph_info(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => {
        const c = document.querySelector('canvas.ts-graph-canvas');
        const pane = document.querySelector('.ts-pane-graph');
        return {nodes: +(c?.dataset.nodes ?? -1), edges: +(c?.dataset.edges ?? -1),
                mode: pane?.dataset.mode ?? '', info: pane?.querySelector('.ts-graph-info')?.textContent ?? '',
                groups: [...document.querySelectorAll('.ts-graph-group')].map((g) => ({
                    fn: g.dataset.fn, counts: JSON.parse(g.dataset.counts || '{}'),
                    text: g.textContent}))};
    }""")


def _wait(page: Any, pred: Any, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        info = _graph_info(page)
        if pred(info):
            return info
        if time.monotonic() > deadline:
            raise AssertionError(f"the graph pane never showed it: {info}")
        page.wait_for_timeout(150)


def test_the_live_graph_on_the_popout_page_with_click_details_and_groups(
        lab_server: Any, page: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(lab_server.root.parent / "runtime"))
    with Pool(2, name="graph-live") as pool:
        time.sleep(1.5)  # the server follows a pool from its next registry scan (every 1 s)
        page.set_viewport_size({"width": 1100, "height": 900})
        page.goto(f"{lab_server.base}/taskscope/pools/{pool.id}?panes=graph&token={lab_server.token}")
        page.wait_for_selector(".ts-pane-graph", timeout=20_000)
        page.wait_for_selector(".ts-root[data-pool-status='running']", timeout=20_000)
        # a diamond whose top is slow, so the picture is caught while it runs
        top = pool.submit(slow, 1, 2.0, key="load")
        left, right = pool.submit(inc, top, key="left"), pool.submit(add, top, 10, key="right")
        sink = pool.submit(add, left, right, key="merge")
        bad = pool.submit(explode, 7, key="bad-input")
        child = pool.submit(inc, bad, key="uses-bad")
        info = _wait(page, lambda i: i["nodes"] == 6 and any(
            g["counts"].get("processing") for g in i["groups"]))
        assert info["mode"] == "tasks" and info["edges"] == 5
        _shoot(page, "graph-live-running.png", page.locator(".ts-pane-graph"))
        assert sink.result(timeout=60) == 2 + 11
        with pytest.raises(TaskError):
            child.result(timeout=60)
        info = _wait(page, lambda i: {g["fn"]: g["counts"].get("memory", 0) for g in i["groups"]}
                     .get("add", 0) >= 2)
        fns = {g["fn"]: g for g in info["groups"]}
        assert set(fns) == {"slow", "inc", "add", "explode"}
        assert "2 memory" in fns["add"]["text"] and "1 erred" in fns["explode"]["text"]
        assert "1 erred" in fns["inc"]["text"]  # the dependent of the failed input
        task_ids = {f.key: f.task_id for f in (top, sink, bad, child)}
        d = _click_node(page, task_ids["merge"])
        assert (d["function"], d["key"], d["state"]) == ("add", "merge", "memory")
        assert d["worker"] in ("w0", "w1") and d["argument"] == "2, 11"
        assert d["duration"] != "—"
        d = _click_node(page, task_ids["load"])
        assert (d["function"], d["argument"], d["state"]) == ("slow", "1, 2.0", "memory")
        assert d["duration"].startswith("2")  # the two seconds it slept
        _shoot(page, "graph-live-done-clicked.png", page.locator(".ts-pane-graph"))
        d = _click_node(page, task_ids["bad-input"])
        assert d["state"] == "erred" and "ValueError: cannot use 7" in d["error"]
        d = _click_node(page, task_ids["uses-bad"])
        assert d["state"] == "erred" and "'bad-input' failed" in d["error"]
        assert d["worker"] == d["duration"] == "—"  # it never ran
        _shoot(page, "graph-live-erred-clicked.png", page.locator(".ts-pane-graph"))
        # 19,999 more tasks: past 5,000 live nodes the pane draws task groups
        level = [pool.submit(inc, i) for i in range(10_000)]
        while len(level) > 1:
            level = [pool.submit(add, level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                     for i in range(0, len(level), 2)]
        assert level[0].result(timeout=180) == sum(range(1, 10_001))
        def tree_done(i: dict[str, Any]) -> bool:
            c = {g["fn"]: g["counts"] for g in i["groups"]}.get("add", {})
            return i["mode"] == "groups" and c.get("memory", 0) + c.get("released", 0) >= 10_001

        info = _wait(page, tree_done, 60)
        assert "grouped by function" in info["info"] and info["nodes"] == 4
        d = _click_node(page, _call_id(page, "add"))
        assert d["function"] == "add" and "memory" in d["states"]
        _shoot(page, "graph-live-groups.png", page.locator(".ts-pane-graph"))
        del level


def _call_id(page: Any, fn: str) -> int:
    return page.evaluate(f"""() => {{
        const rows = [...document.querySelectorAll('.ts-graph-group')];
        return +rows.find((r) => r.dataset.fn === {json.dumps(fn)}).dataset.call; }}""")


def _big_state(n: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A State of `n` single-task nodes (a binary tree of submits and some running, erred
    and waiting ones), fed through the real State's reducers."""
    monkeypatch.setattr(state_graph, "MAX_NODES", n + 10)
    st = State()
    seq = [0]

    def ev(kind: str, **b: Any) -> None:
        seq[0] += 1
        st.apply(Event(kind, seq[0], 100.0 + seq[0] * 1e-4, "driver", b))

    ev("pool.started", id="big", name="big-graph", pid=1, n_workers=2, start_method="forkserver",
       memory_limit=None)
    ev("call.started", call=1, api="submit", fn="load", module="m", file="f.py", line=1,
       callsite=None, total=None)
    ev("call.started", call=2, api="submit", fn="combine", module="m", file="f.py", line=2,
       callsite=None, total=None)
    leaves = n // 2
    level, tid = [], 0
    for _ in range(leaves):
        tid += 1
        ev("task.queued", call=1, task=tid, n=1)
        level.append(tid)
    while len(level) > 1 and tid < n:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            if tid >= n:
                break
            tid += 1
            ev("task.waiting", call=2, task=tid, n=1, deps=[level[i], level[i + 1]])
            nxt.append(tid)
        level = nxt
    while tid < n:  # (odd ones out of the tree's levels) independent tasks up to n
        tid += 1
        ev("task.queued", call=1, task=tid, n=1)
    for t in range(1, leaves + 1):  # leaves: most done, some running, one erred
        ev("task.processing", call=1, task=t, worker=t % 2, n=1)
        if t % 50 == 0:
            continue
        ev("task.finished", call=1, task=t, worker=t % 2, n=1, n_erred=1 if t == 7 else 0,
           start=1.0, end=1.01, state="memory", nbytes=8, insights={}, longest=[0.01, str(t)],
           was="processing")
    out = st.to_json()
    assert out["graph"]["mode"] == "tasks" and len(out["graph"]["nodes"]["id"]) == n
    return out


def test_a_20000_node_graph_keeps_frames_under_16_ms(
        page: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = _big_state(BIG, monkeypatch)
    empty = {"first": 0, "n": 0, "width": 6, "data": ""}
    data = {"v": 1, "generated": "test", "pools": [{"state": state, "stream": empty,
                                                    "resources": {**empty, "width": 5}}]}
    js = reports.REPORT_JS.read_text(encoding="utf-8")
    css = reports.REPORT_CSS.read_text(encoding="utf-8")
    path = tmp_path / "big-graph.html"
    path.write_text(reports.PAGE.format(title="big graph", css=css, subtitle="20,000 tasks",
                                        data=reports._json_for_script(data),
                                        js=js.replace("</script", "<\\/script")), encoding="utf-8")
    page.set_viewport_size({"width": 1100, "height": 1000})
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("body[data-ready]", timeout=30_000)
    page.wait_for_selector(f"canvas.ts-graph-canvas[data-nodes='{BIG}']", timeout=30_000)
    page.locator(".ts-pane-graph").scroll_into_view_if_needed()
    timing = page.evaluate("""async () => {
        const c = document.querySelector('canvas.ts-graph-canvas');
        const r = c.getBoundingClientRect();
        const frame = () => new Promise((res) => requestAnimationFrame(res));
        const draws = [], gaps = [];
        await frame();
        let last = performance.now();
        for (let i = 0; i < 90; i++) {
            // zoom in for 45 frames, out for 45, around a point that moves: every frame
            // redraws the whole graph (the pane draws in its own requestAnimationFrame)
            c.dispatchEvent(new WheelEvent('wheel', {deltaY: i < 45 ? -60 : 60, bubbles: true,
                cancelable: true, clientX: r.left + r.width * (0.2 + 0.6 * (i % 10) / 10),
                clientY: r.top + r.height / 2}));
            await frame();
            const now = performance.now();
            gaps.push(now - last);
            last = now;
            draws.push(+c.dataset.drawMs);
        }
        return {draws, gaps, layout: +c.dataset.layoutMs, drawn: +c.dataset.drawn};
    }""")
    draws = sorted(timing["draws"])
    med, p95 = statistics.median(draws), draws[int(0.95 * (len(draws) - 1))]
    gap = statistics.median(timing["gaps"])
    print(f"\n[graph] {BIG:,} nodes: draw per frame median {med:.2f} ms, p95 {p95:.2f} ms, "
          f"max {draws[-1]:.2f} ms; rAF interval median {gap:.1f} ms; layout "
          f"{timing['layout']:.0f} ms (once per change of shape)")
    _shoot(page, "graph-20000.png", page.locator(".ts-pane-graph"))
    assert med < FRAME_BUDGET_MS and p95 < FRAME_BUDGET_MS, timing
    assert timing["layout"] < 1000  # once per change of the graph's shape, not per frame
