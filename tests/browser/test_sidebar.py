"""The taskscope JupyterLab sidebar (js/lab/), driven in headless Chromium.

One pool runs in a notebook kernel, another in a plain script started as a subprocess with
the server's JUPYTER_RUNTIME_DIR (so the server's registry scan finds it). The test opens the
"taskscope" panel from the left sidebar, checks that both pools are listed with their origin,
clicks "task stream" for the script's pool, and checks that a main-area tab opens whose
iframe (the pop-out page restricted to that pane) draws the task stream and keeps growing.

What the sidebar renders is asserted through its data-* attributes (js/lab/src/index.js):
``.ts-lab-pool[data-pool-id][data-name][data-origin][data-origin-text][data-workers]`` and
``button[data-pane]``; the pane through ``canvas.ts-stream-canvas[data-rects][data-stream-total]``.

Screenshots: tests/browser/screenshots/sidebar-*.png.

Run:  .venv/bin/python -m pytest -m browser -s tests/browser/test_sidebar.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright")

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
SHOTS = Path(os.environ.get("TASKSCOPE_SHOTS", HERE / "screenshots"))
NOTEBOOK = "sidebar-pool.ipynb"
NB_POOL, SCRIPT_POOL = "sidebar-nb", "sidebar-script"

NB_CELLS = [
    "import time\nfrom taskscope import Pool\n\n"
    f"pool = Pool(2, name={NB_POOL!r}, profile=True)\n"
    # The server follows a pool from its next registry scan (every 1 s) and counts only the
    # tasks it saw from then on: give it that scan before the map.
    "time.sleep(2)",
    "def slow_cube(x):\n    time.sleep(0.01)\n    return x ** 3\n\n"
    "sum(pool.map(slow_cube, range(60)))",
]


def _notebook(cells: list[str]) -> dict[str, Any]:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                   "outputs": [], "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def _shoot(page: Any, name: str, locator: Any = None) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    (locator or page).screenshot(path=str(path))
    return path


@pytest.fixture
def script_pool(lab_server: Any, tmp_path: Path) -> Any:
    """A pool in a plain subprocess script, registered in the Lab server's runtime dir."""
    stop = tmp_path / "stop"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(lab_server.root.parent / "runtime")}
    proc = subprocess.Popen([sys.executable, str(HERE / "_sidebar_pool_script.py"), SCRIPT_POOL,
                             str(stop)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # "READY <id>" once the pool registered itself
        assert line.startswith("READY "), f"script pool did not start: {line!r}"
        yield line.split()[1]
    finally:
        stop.touch()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def _wait_row(page: Any, row: Any, condition: str, timeout: float = 15_000) -> None:
    """Wait until `condition` (JS, over `el`, the row) holds; on timeout say what the row had."""
    try:
        page.wait_for_function(f"(el) => {condition}", arg=row.element_handle(), timeout=timeout)
    except Exception as exc:
        data = row.evaluate("(el) => ({...el.dataset})")
        raise AssertionError(f"sidebar row never met {condition!r}: {data}") from exc


def _run_notebook(page: Any, server: Any) -> None:
    """Open the notebook, wait for its kernel (env-notes' recipe), Run All, wait for the end."""
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(server.url(NOTEBOOK))
    t0 = time.monotonic()
    while True:
        sessions = [s for s in server.api("/api/sessions") if s["path"].endswith(NOTEBOOK)]
        if sessions and any(sessions[0]["kernel"]["id"] in url for url in sockets):
            break
        assert time.monotonic() - t0 < 60, f"no kernel connection for {NOTEBOOK}: {sockets}"
        page.wait_for_timeout(200)  # not time.sleep: Playwright delivers events only here
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=60_000)
    page.click('.lm-MenuBar-item:has-text("Run")')
    page.click('.lm-Menu-item[data-command="runmenu:run-all"]')
    page.wait_for_function(
        """() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
                   return p.length > 0 && p.every((e) => /^\\[\\d+\\]:?$/.test(e.textContent.trim())); }""",
        timeout=90_000, polling=250)


def test_sidebar_lists_pools_and_opens_task_stream(page: Any, lab_server: Any,
                                                    script_pool: str) -> None:
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    (lab_server.root / NOTEBOOK).write_text(json.dumps(_notebook(NB_CELLS)))
    _run_notebook(page, lab_server)

    # The panel's icon is in the left sidebar; open it.
    tab = page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="taskscope-sidebar"]')
    tab.wait_for(timeout=15_000)
    tab.click()
    panel = page.locator("#taskscope-sidebar")
    panel.wait_for(state="visible", timeout=10_000)

    nb_row = panel.locator(f'.ts-lab-pool[data-name="{NB_POOL}"]')
    script_row = panel.locator(f'.ts-lab-pool[data-name="{SCRIPT_POOL}"]')
    nb_row.wait_for(timeout=20_000)
    script_row.wait_for(timeout=20_000)
    assert script_row.get_attribute("data-pool-id") == script_pool
    # Origins: the notebook's pool names its notebook (JupyterLab knows the kernel's session),
    # the script's pool says "script" with its pid.
    _wait_row(page, nb_row, "el.dataset.originText.includes('sidebar-pool.ipynb')")
    assert nb_row.get_attribute("data-origin") == "notebook"
    assert script_row.get_attribute("data-origin") == "script"
    assert script_row.get_attribute("data-origin-text").startswith("script · pid ")
    assert "script · pid" in script_row.inner_text()
    assert NB_POOL in nb_row.inner_text() and "sidebar-pool.ipynb" in nb_row.inner_text()
    # The notebook's map finished; both pools have 2 workers. (Not "60 finished": the server
    # follows a pool from its first registry scan on, up to 1 s after the pool started, and
    # counts only the tasks it saw; a map that begins before that scan shows fewer.)
    _wait_row(page, nb_row, "el.dataset.workers === '2' && Number(el.dataset.finished) > 0 "
                            "&& el.dataset.fraction === '1.000'")
    _wait_row(page, script_row, "el.dataset.workers === '2'")
    for pane in ("progress", "task-stream", "memory", "workers", "errors", "resources", "dashboard"):
        assert script_row.locator(f'button[data-pane="{pane}"]').count() == 1, pane
    # The profile pane is offered where the pool samples its workers (the notebook's pool).
    assert nb_row.locator('button[data-pane="profile"]').is_visible()
    assert script_row.locator('button[data-pane="profile"]').is_hidden()
    assert panel.locator(".ts-lab-empty").is_hidden()
    _shoot(page, "sidebar-panel.png", panel)
    _shoot(page, "sidebar-lab.png")

    # Open the script pool's task stream as a main-area tab.
    script_row.locator('button[data-pane="task-stream"]').click()
    title = f"taskscope: {SCRIPT_POOL} · task stream"
    page.locator(f'.lm-DockPanel .lm-TabBar-tab:has-text("{title}")').wait_for(timeout=10_000)
    frame_el = page.locator('.ts-lab-frame[data-pane="task-stream"] iframe')
    frame_el.wait_for(timeout=10_000)
    src = frame_el.get_attribute("src")
    assert src.endswith(f"/taskscope/pools/{script_pool}?panes=task-stream"), src
    frame = frame_el.element_handle().content_frame()
    frame.wait_for_function(
        """() => { const c = document.querySelector('canvas.ts-stream-canvas');
                   return c && Number(c.dataset.rects) > 0 && Number(c.dataset.streamTotal) > 0; }""",
        timeout=30_000, polling=250)
    read = """() => { const c = document.querySelector('canvas.ts-stream-canvas');
                      return {rects: Number(c.dataset.rects), total: Number(c.dataset.streamTotal),
                              memory: document.querySelectorAll('.ts-pane-memory').length,
                              w: c.getBoundingClientRect().width}; }"""
    first = frame.evaluate(read)
    assert first["memory"] == 0, f"the pane filter was ignored: {first}"
    assert first["w"] > 200, first
    # Live: the script keeps mapping, so the stream grows while the tab is open.
    frame.wait_for_function(
        f"""() => Number(document.querySelector('canvas.ts-stream-canvas').dataset.streamTotal)
                  >= {first['total'] + 8}""", timeout=20_000, polling=250)
    later = frame.evaluate(read)
    page.wait_for_timeout(500)
    _shoot(page, "sidebar-task-stream-tab.png")
    _shoot(page, "sidebar-task-stream-pane.png", page.locator(".ts-lab-pane-tab").first)
    print(f"\n[browser] sidebar: pools listed; task-stream tab rects {first['rects']} -> "
          f"{later['rects']}, stream total {first['total']} -> {later['total']}")

    # Opening the same pane again activates the existing tab instead of a second one.
    script_row.locator('button[data-pane="task-stream"]').click()
    page.wait_for_timeout(300)
    assert page.locator('.ts-lab-frame[data-pane="task-stream"]').count() == 1
    assert not [m for m in console if "taskscope" in m.lower()], console
