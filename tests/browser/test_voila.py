"""taskscope in Voila, for real: `voila` renders a notebook as an app in headless Chromium.

Voila runs every cell in its own kernel, then the page's widget manager builds the
kernel's live widget models (the hidden code carrier among them, so the bars' and the
dashboard's small loaders find their code). The test proves that the per-call bar shows
its final counts and that the dashboard stays live: a thread started by the last cell keeps
running maps after the page has rendered, and the browser sees the totals grow.

Run:  .venv/bin/python -m pytest -m browser -s tests/browser/test_voila.py
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright")
pytest.importorskip("voila")
nbformat = pytest.importorskip("nbformat")

from _apps import free_port, number, serve  # noqa: E402  (tests/browser is on sys.path)
from test_notebooks_browser import BAR, shoot  # noqa: E402

pytestmark = pytest.mark.browser

FIRST, ROUNDS, PER_ROUND = 200, 10, 100
TOTAL = FIRST + ROUNDS * PER_ROUND
CELLS = [
    "%load_ext taskscope\nimport threading, time\nfrom taskscope import Pool\n\n"
    "pool = Pool(2, name='voila-demo')\n\n"
    "def slow_square(x):\n    time.sleep(0.01)\n    return x * x\n\n"
    f"squares = pool.map(slow_square, range({FIRST}))\nsum(squares)",
    "display(pool.dashboard())",
    # Work that goes on after Voila has rendered the page: the dashboard must follow it.
    "def more_work():\n    time.sleep(2)\n"
    f"    for _ in range({ROUNDS}):\n"
    f"        pool.map(slow_square, range({PER_ROUND}), chunksize=2)\n        time.sleep(0.3)\n\n"
    "threading.Thread(target=more_work, daemon=True).start()",
]


@pytest.fixture
def voila_app(tmp_path: Path) -> Iterator[str]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / "voila-demo.ipynb")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with serve([sys.executable, "-m", "voila", "voila-demo.ipynb", "--no-browser",
                "--Voila.ip=127.0.0.1", f"--port={port}"], f"{base}api/status", tmp_path,
               "voila"):
        yield base


def test_voila_bar_and_live_dashboard(voila_app: str, page: Any) -> None:
    page.set_viewport_size({"width": 1300, "height": 1000})
    page.goto(voila_app, timeout=90_000)
    # The bar, live or (its map finished in its cell) the snapshot left in its place.
    bar = page.locator(f'{BAR}[data-fn="slow_square"]').first
    bar.wait_for(timeout=60_000)
    page.wait_for_selector(f'{BAR}[data-fn="slow_square"][data-done="{FIRST}"]'
                           f'[data-status="done"]', timeout=30_000)
    dash = page.locator(".ts-root:has(.ts-pane-memory)").first
    dash.wait_for(timeout=30_000)
    done_stat = dash.locator('[data-stat="done"] .ts-stat-v')
    seen: list[int] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if done_stat.count():
            seen.append(number(done_stat.first.inner_text()))
            if seen[-1] == TOTAL:
                break
        page.wait_for_timeout(200)  # not time.sleep: Playwright delivers events only here
    assert seen and seen[-1] == TOTAL, f"the dashboard showed {seen[-5:]}, wanted {TOTAL}"
    growing = sorted({d for d in seen if FIRST <= d < TOTAL})
    assert len(growing) >= 3, f"the dashboard did not follow the work live: {seen}"
    # Every call is listed, each complete, and the panes are drawn.
    page.wait_for_function(
        """(el) => el.querySelectorAll('.ts-mem-row[data-worker]').length === 2
             && Number(el.querySelector('canvas.ts-stream-canvas')?.dataset.rects ?? 0) > 0""",
        arg=dash.element_handle(), timeout=15_000)
    assert page.locator("[data-taskscope-waiting]").count() == 0
    shoot(page, "voila-app.png")
    shoot(page, "voila-dashboard.png", dash)
