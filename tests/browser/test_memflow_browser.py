"""Memory by function, a transfer and saturation as a user sees them, in Debian's Chromium
(issue 14, items 3-5): a real pool keeps results on both workers, a task on one worker
fetches an input from the other, a map keeps both busy; its report (the same panes as the
widget and the pop-out page, from the same State) is opened offline and read back.

Screenshots: tests/browser/screenshots/memflow-*.png (look at them).
"""
from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Any

import pytest
from test_report_browser import SHOTS, open_offline, shoot

from taskscope import Pool
from taskscope.snapshot import snapshot_html
from taskscope.state_history import state_from_story

pytestmark = [pytest.mark.browser]


@pytest.fixture(autouse=True)
def _own_runtime_dir(tmp_path_factory: pytest.TempPathFactory,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The pools' registry files go to a private runtime dir, not the user's."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path_factory.mktemp("runtime")))


def load_table(n: int, delay: float) -> bytearray:
    time.sleep(delay)
    return bytearray(n)


def join_tables(a: Any, b: Any) -> int:
    return len(a) + len(b)


def nap(s: float) -> float:
    time.sleep(s)
    return s


def _wait(cond: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_report_shows_memory_by_function_a_red_transfer_and_saturation(
        page: Any, tmp_path: Path) -> None:
    with Pool(2, name="memflow") as pool:
        pool.map(nap, [0.2, 0.2], chunksize=1)
        a = pool.submit(load_table, 6_000_000, 0.4)
        b = pool.submit(load_table, 4_000_000, 0.4)
        _wait(lambda: a.done() and b.done(), "the tables")
        joined = pool.submit(join_tables, a, b)
        assert joined.result(timeout=60) == 10_000_000
        pool.map(nap, [0.15] * 12, chunksize=1)  # both workers busy: saturated
        [transfer] = [r for r in pool.task_stream() if r["state"] == "transfer"]
        managed = sum(w.managed for w in pool._driver.workers.values())
        _wait(lambda: pool._driver.history.held and sum(r[2] for r in pool._driver.history.held)
              == managed, "a sample of the held bytes")
        path = pool.report(tmp_path / "memflow.html")  # while the results are held
        st = state_from_story(pool._story(), time.monotonic())
        _, stream = st.stream.since(0)
        _, resources = st.resources.since(0)
        static = tmp_path / "memflow-static.html"
        static.write_text(f"<!doctype html><meta charset=utf-8><body data-ready>"
                          f"{snapshot_html(st.to_json(), stream, resources)}</body>")
        del a, b, joined
        gc.collect()
    open_offline(page, path)
    page.set_viewport_size({"width": 1100, "height": 1400})
    page.wait_for_timeout(300)

    # Memory by function: the tables' bytes (with the copy the fetch left on the other
    # worker) and the join's, adding up to the managed bytes of the worker bars.
    rows = page.evaluate("""() => [...document.querySelectorAll('.ts-memfn-row')].map((r) => ({
        name: r.querySelector('.ts-memfn-label').textContent, bytes: Number(r.dataset.bytes),
        width: r.querySelector('.ts-memfn-bar').getBoundingClientRect().width,
        color: getComputedStyle(r.querySelector('.ts-memfn-bar')).backgroundColor}))""")
    assert [r["name"] for r in rows] == ["load_table", "join_tables"], rows
    assert abs(rows[0]["bytes"] - (10_000_000 + transfer["nbytes"])) < 4096, rows
    assert rows[0]["width"] > 100 * rows[1]["width"] >= 0 and rows[0]["color"] != rows[1]["color"]
    total_managed = page.evaluate("Number(document.querySelector('.ts-pane-memory').dataset.totalManaged)")
    assert sum(r["bytes"] for r in rows) == total_managed == managed
    page.locator(".ts-pane-memory").screenshot(path=str(SHOTS / "memflow-memory-by-function.png"))

    # The transfer: red, in the receiving worker's lane, its tooltip naming bytes and speed.
    canvas = page.locator("canvas.ts-stream-canvas")
    canvas.scroll_into_view_if_needed()
    mid = (transfer["start"] + transfer["end"]) / 2
    for _ in range(40):  # zoom in around it until the ~10 ms bar is wide enough to see
        d = canvas.evaluate("(c) => ({...c.dataset})")
        x0, pw, lane_h, top = (float(v) for v in d["layout"].split())
        t0, t1 = float(d["t0"]), float(d["t1"])
        if t1 - t0 < 20 * (transfer["end"] - transfer["start"]):
            break
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + x0 + (mid - t0) / (t1 - t0) * pw, box["y"] + top + 2)
        page.mouse.wheel(0, -400)
        page.wait_for_timeout(60)
    d = canvas.evaluate("(c) => ({...c.dataset})")
    x0, pw, lane_h, top = (float(v) for v in d["layout"].split())
    t0, t1 = float(d["t0"]), float(d["t1"])
    box = canvas.bounding_box()
    x = x0 + (mid - t0) / (t1 - t0) * pw
    y = top + transfer["worker"] * lane_h + lane_h * 0.8  # a transfer fills the lower half
    pixel = canvas.evaluate("""(c, [x, y]) => { const k = c.width / c.clientWidth;
        return [...c.getContext('2d').getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data]; }""",
                            [x, y])
    assert pixel[0] > 150 and pixel[1] < 90 and pixel[2] < 90, pixel  # Dask's red
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.wait_for_timeout(200)
    tip = page.locator(".ts-pane-task-stream .ts-tooltip").inner_text()
    assert "transfer" in tip and "fetched from another worker" in tip and "join_tables" in tip, tip
    assert "MiB" in tip and "/s" in tip, tip
    pane, tipbox = page.locator(".ts-pane-task-stream").bounding_box(), \
        page.locator(".ts-pane-task-stream .ts-tooltip").bounding_box()
    bottom = max(pane["y"] + pane["height"], tipbox["y"] + tipbox["height"]) + 4
    page.screenshot(path=str(SHOTS / "memflow-transfer.png"), full_page=True, clip={
        "x": pane["x"], "y": pane["y"], "width": pane["width"], "height": bottom - pane["y"]})

    # Saturation: both workers' bands; the map's stretch reaches both slots.
    sat = page.locator("canvas[data-chart='saturation']")
    s = sat.evaluate("(c) => ({...c.dataset})")
    assert int(s["slots"]) == 2 and int(s["workers"]) == 2, s
    assert 1.5 < float(s["peak"]) <= 2.0 + 1e-6 and float(s["mean"]) > 0.2, s
    page.locator(".ts-pane-resources").screenshot(
        path=str(SHOTS / "memflow-saturation.png"))
    shoot(page, "memflow-report.png")

    # The static snapshot (a saved notebook without a kernel): the same three, as HTML + SVG.
    open_offline(page, static)
    rows = page.evaluate("""() => [...document.querySelectorAll('.tss-memfn-row')].map(
        (r) => [r.cells[0].textContent, Number(r.dataset.bytes)])""")
    assert [name for name, _ in rows] == ["load_table", "join_tables"], rows
    assert sum(b for _, b in rows) == managed
    assert "transfer" in page.locator(".tss-pane-task-stream").inner_text()
    sat = page.locator("img.tss-saturation")
    assert sat.evaluate("(i) => i.complete && i.naturalWidth") > 0
    assert "2 workers, 2 slots" in page.locator(".tss-sat").inner_text()
    page.locator(".tss-pane-memory").screenshot(path=str(SHOTS / "memflow-static-memory.png"))
    page.locator(".tss-pane-resources").screenshot(path=str(SHOTS / "memflow-static-resources.png"))
    page.locator(".tss-pane-task-stream").screenshot(path=str(SHOTS / "memflow-static-stream.png"))
