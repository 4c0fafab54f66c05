"""taskscope in marimo, for real: `marimo run` serves notebooks/marimo_dashboard.py and
headless Chromium watches it.

marimo renders an anywidget only when it is a cell's output (no hidden code carrier) and
has no %load_ext (kernel_ext/_marimo.py). The test proves both: the dashboard draws and
updates live while a later cell's map runs, and that map shows its own progress bar,
growing, without any extension loaded. marimo draws widgets in open shadow roots;
Playwright's CSS locators pierce them.

Run:  .venv/bin/python -m pytest -m browser -s tests/browser/test_marimo.py
"""
from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright")
pytest.importorskip("marimo")

from _apps import free_port, number, serve  # noqa: E402  (tests/browser is on sys.path)
from test_notebooks_browser import shoot  # noqa: E402

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
N_ITEMS = 400  # notebooks/marimo_dashboard.py: 400 sleeps of 20 ms on 2 workers, ~4 s


@pytest.fixture
def marimo_app(tmp_path: Path) -> Iterator[str]:
    """`marimo run` on a copy of the notebook."""
    shutil.copy(NOTEBOOKS / "marimo_dashboard.py", tmp_path / "marimo_dashboard.py")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve([sys.executable, "-m", "marimo", "run", "marimo_dashboard.py", "--headless",
                "--host", "127.0.0.1", "--port", str(port)], f"{base}/health", tmp_path,
               "marimo"):
        yield base


def test_marimo_dashboard_live_and_map_progress_without_load_ext(marimo_app: str,
                                                                page: Any) -> None:
    page.set_viewport_size({"width": 1300, "height": 1000})
    page.goto(marimo_app)
    dash = page.locator(".ts-root:has(.ts-pane-memory)")
    bar = page.locator('.ts-compact[data-fn="slow_square"]')
    # Sample what the browser shows while the map runs: both views must move.
    bar_done: list[int] = []
    dash_done: list[int] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if bar.count():
            bar_done.append(int(bar.first.get_attribute("data-done") or 0))
        if dash.count():
            stat = dash.first.locator('[data-stat="done"] .ts-stat-v')
            if stat.count():
                dash_done.append(number(stat.first.inner_text()))
        if bar_done and bar_done[-1] == N_ITEMS and dash_done and dash_done[-1] == N_ITEMS:
            break
        page.wait_for_timeout(150)  # not time.sleep: Playwright delivers events only here
    assert bar_done and bar_done[-1] == N_ITEMS, f"the bar showed {bar_done[-5:]}"
    assert any(0 < d < N_ITEMS for d in bar_done), f"the bar never moved live: {bar_done}"
    assert any(0 < d < N_ITEMS for d in dash_done), f"the dashboard never moved: {dash_done}"
    assert dash_done[-1] == N_ITEMS
    page.wait_for_selector('.ts-compact[data-fn="slow_square"][data-status="done"]',
                           timeout=15_000)
    # The dashboard is whole: a memory row per worker, the task stream drawn, no waiting note.
    page.wait_for_function(
        """() => {
             const root = [...document.querySelectorAll('marimo-anywidget')]
               .map((w) => w.shadowRoot?.querySelector('.ts-root')).find(Boolean);
             return root && root.querySelectorAll('.ts-mem-row[data-worker]').length === 2
               && Number(root.querySelector('canvas.ts-stream-canvas')?.dataset.rects ?? 0) > 0;
           }""", timeout=15_000)
    assert page.locator("[data-taskscope-waiting]").count() == 0
    assert "400 / 400" in dash.first.inner_text()
    shoot(page, "marimo-dashboard.png", dash.first)
    shoot(page, "marimo-map-bar.png", bar.first)
