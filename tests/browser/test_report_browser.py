"""Offline reports opened from file:// in Debian's Chromium with every network request refused.

A real pool runs real work (a map, a failing map, submits); `pool.report()` and
`taskscope.report()` write the files; the page must draw the same panes as the widget from
the embedded State alone: the task stream with every record `pool.task_stream()` returns,
the counts, the errors with their tracebacks. Every request the page makes is routed and
recorded (and refused unless it is the report file itself), and Content-Security-Policy
violations are recorded too: the test fails if the page tried to reach anything.

Screenshots: tests/browser/screenshots/report-*.png (look at them).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import taskscope
from taskscope import Pool

pytestmark = [pytest.mark.browser]

SHOTS = Path(os.environ.get("TASKSCOPE_SHOTS", Path(__file__).parent / "screenshots"))


@pytest.fixture(autouse=True)
def _own_runtime_dir(tmp_path_factory: pytest.TempPathFactory,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The pools' registry files go to a private runtime dir, not the user's."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path_factory.mktemp("runtime")))


def square(x: int) -> int:
    return x * x


def fails_on_sevens(x: int) -> int:
    if x % 7 == 3:
        raise ValueError(f"bad value {x}")
    return x


def open_offline(page: Any, path: Path) -> dict[str, list[str]]:
    """Open `path` from file:// refusing every request but the file itself; returns what
    was asked for and refused, and the CSP violations the page reported."""
    url = path.resolve().as_uri()
    seen: dict[str, list[str]] = {"requests": [], "refused": [], "csp": []}

    def route(r: Any) -> None:
        seen["requests"].append(r.request.url)
        if r.request.url == url:
            r.continue_()
        else:
            seen["refused"].append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("request", lambda req: seen["requests"].append(req.url))
    page.add_init_script("""document.addEventListener('securitypolicyviolation',
        (e) => { (window.__csp = window.__csp || []).push(e.blockedURI + ' ' + e.violatedDirective); });""")
    page.goto(url)
    page.wait_for_selector("body[data-ready]", timeout=20_000)
    seen["csp"] = page.evaluate("window.__csp || []")
    return seen


def shoot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def read_dashboards(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("""() => [...document.querySelectorAll('.ts-root')].map((el) => {
        const canvas = el.querySelector('canvas.ts-stream-canvas');
        const stat = (k) => Number(el.querySelector(`[data-stat="${k}"] .ts-stat-v`)
                                     ?.textContent.replace(/[^0-9]/g, '') ?? -1);
        return {
          name: el.querySelector('.ts-pool-name')?.textContent,
          status: el.dataset.poolStatus,
          kept: Number(canvas?.dataset.total ?? -1),
          streamTotal: Number(canvas?.dataset.streamTotal ?? -1),
          visible: Number(canvas?.dataset.visible ?? -1),
          live: canvas?.dataset.live,
          done: stat('done'), erred: stat('erred'),
          errors: el.querySelectorAll('.ts-err').length,
          text: el.innerText,
        };
      })""")


@pytest.fixture(scope="module")
def finished_pool() -> Any:
    pool = Pool(2, name="report-pool")
    pool.map(square, range(3000), chunksize=10)
    with pytest.raises(ValueError):
        pool.map(fails_on_sevens, range(200), chunksize=1)
    futures = [pool.submit(square, i) for i in range(40)]
    assert [f.result() for f in futures] == [i * i for i in range(40)]
    pool.shutdown()
    return pool


def test_pool_report_opens_offline_with_every_record(page: Any, tmp_path: Path,
                                                     finished_pool: Any) -> None:
    path = finished_pool.report(tmp_path / "run.html")  # of a closed pool: its whole story
    records = finished_pool.task_stream()
    seen = open_offline(page, path)
    url = path.resolve().as_uri()
    assert set(seen["requests"]) == {url}, seen
    assert not seen["refused"] and not seen["csp"], seen
    [dash] = read_dashboards(page)
    assert dash["name"] == "report-pool" and dash["status"] == "closed"
    assert dash["kept"] == len(records) == dash["streamTotal"] > 300
    assert dash["visible"] == len(records)  # opens on the whole run, not the live edge
    assert dash["live"] == "0"
    assert dash["done"] == sum(r["items"] - r["erred"] for r in records)
    assert dash["erred"] >= 1 and dash["errors"] >= 1
    assert "bad value 3" in dash["text"] and "fails_on_sevens" in dash["text"]
    assert "square" in dash["text"]
    shoot(page, "report-pool.png")
    # Zoom into the middle: fewer records in view, drawn from the same embedded ring.
    canvas = page.locator("canvas.ts-stream-canvas")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.85, box["y"] + box["height"] / 2)
    for _ in range(3):
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(50)
    page.wait_for_timeout(200)
    [zoomed] = read_dashboards(page)
    assert 0 < zoomed["visible"] < dash["visible"]
    shoot(page, "report-pool-zoomed.png")


def test_report_block_records_every_pool_used(page: Any, tmp_path: Path) -> None:
    with Pool(2, name="before-block") as outer:
        outer.map(square, range(500), chunksize=5)  # before the block: left out
        before = len(outer.task_stream())
        with taskscope.report(tmp_path / "block.html") as rep:
            with Pool(2, name="inside-block") as inner:
                inner.map(square, range(400), chunksize=4)
            with pytest.raises(ValueError):
                outer.map(fails_on_sevens, range(50), chunksize=1)
        with Pool(1, name="unused") as _unused:
            pass
        outer_new = len(outer.task_stream()) - before
        inner_records = len(inner.task_stream())
    assert rep.written is not None
    seen = open_offline(page, rep.written)
    assert set(seen["requests"]) == {rep.written.resolve().as_uri()} and not seen["csp"]
    dashes = {d["name"]: d for d in read_dashboards(page)}
    assert set(dashes) == {"before-block", "inside-block"}
    assert dashes["inside-block"]["kept"] == inner_records
    assert dashes["inside-block"]["done"] == 400
    # The outer pool is reported from the block's start: its earlier map is left out.
    assert dashes["before-block"]["kept"] == outer_new
    assert dashes["before-block"]["done"] < 50 and dashes["before-block"]["erred"] >= 1
    shoot(page, "report-block.png")
