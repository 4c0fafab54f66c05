"""A save in JupyterLab right after a cell keeps the cell's picture (headless Chromium).

JupyterLab serialises a notebook the moment its save starts, so the dashboard's output
holds whatever snapshot came last. taskscope's renderer (js/lab/src/saved.js) asks the
kernel for a fresh one on every save and, when a newer one arrives, saves once more
(kernel_ext/saved_clients.py). This test takes the kernel's other ways of delivering it
away (the end-of-cell snapshot at idle and the periodic one, both put off for an hour),
runs a map, presses Save once, and reads the file: the map's final count must reach it
through the save's own request, with no second press. On the way it checks that the
renderer announced itself, so the kernel knows this client needs no display updates.

Run:  .venv/bin/python -m pytest -m browser -s tests/browser/test_saved_on_save.py
"""
from __future__ import annotations

import re
import time
from typing import Any

import pytest

pytest.importorskip("playwright")

from test_notebooks_browser import shoot  # noqa: E402 (after the skip)
from test_saved_notebooks import (  # noqa: E402
    SETUP, VIEW_MIME, menu, open_notebook, saved_outputs, write_notebook)

pytestmark = pytest.mark.browser

# The kernel's own deliveries put off: only the save's request can bring the new picture.
NO_OTHER_WAY = """from taskscope import saved_clients, saved_output
saved_clients.IDLE_SETTLE_S = 3600
saved_output.SNAPSHOT_INTERVAL_S = 3600
print("renderer known:", saved_clients.executing_client_has_renderer())"""
MAP = 'r = pool.map(square, range(321))\nprint("MAPPED", len(r))'


def run_cell(page: Any, index: int, until_text: str) -> None:
    """Run one code cell (Ctrl+Enter in its editor) and wait until its output shows
    `until_text` and the kernel is idle again."""
    cell = page.locator(".jp-Notebook .jp-CodeCell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    cell.locator(f'.jp-OutputArea-output:has-text("{until_text}")').wait_for(timeout=60_000)
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=30_000)


def saved_square_done(server: Any, notebook: str) -> int:
    """The dashboard's saved snapshot: the done count of function `square` (-1: none)."""
    for o in saved_outputs(server, notebook):
        data = o.get("data", {})
        if VIEW_MIME in data and data[VIEW_MIME]["view"] == "dashboard":
            html = "".join(data["text/html"]) if isinstance(data["text/html"], list) else data["text/html"]
            found = re.search(r'class="tss-function" data-fn="square" data-done="(\d+)"', html)
            return int(found.group(1)) if found else 0
    return -1


def test_save_right_after_a_cell_keeps_its_picture_jupyterlab(page: Any, lab_server: Any) -> None:
    nb = "saved-on-save.ipynb"
    write_notebook(lab_server.root / nb, [SETUP, NO_OTHER_WAY, MAP])
    open_notebook(page, lab_server, nb)
    run_cell(page, 0, "")  # the dashboard
    page.wait_for_selector('.ts-saved-view[data-ts-saved="live"] .ts-root', timeout=30_000)
    page.wait_for_timeout(500)  # the renderer's announcement reaches the idle kernel

    run_cell(page, 1, "renderer known:")
    out = page.locator(".jp-Notebook .jp-CodeCell").nth(1).inner_text()
    assert "renderer known: True" in out, out

    run_cell(page, 2, "MAPPED 321")
    t0 = time.monotonic()
    menu(page, "File", "docmanager:save")  # once
    done = -1
    while time.monotonic() - t0 < 15:
        done = saved_square_done(lab_server, nb)
        if done == 321:
            break
        page.wait_for_timeout(200)
    took = time.monotonic() - t0
    assert done == 321, f"the saved dashboard shows {done} of square's 321 items after {took:.1f} s"
    # The follow-up save left the notebook clean (no unsaved-changes mark on its tab).
    page.wait_for_timeout(500)
    dirty = page.locator(".jp-mod-current.jp-mod-dirty, .lm-TabBar-tab.lm-mod-current.jp-mod-dirty")
    assert dirty.count() == 0
    shoot(page, "lab-saved-on-save.png")
    print(f"\n[browser] one save right after the map: the file showed 321 of 321 after {took:.2f} s")
