"""Saved notebooks reopened in JupyterLab 4 and Notebook 7 (headless Chromium): never
"Error displaying widget: model not found", always the static snapshot of what ran.

Each test runs a small notebook for real (a pool, a dashboard, maps, a failing map), saves
it through the File menu, stops or kills its kernel and opens it again, the way a user
does the next day; then it asserts on what is *visible*:

* closed pool: every bar and the dashboard were replaced by the snapshot (plain HTML);
* live pool, kernel shut down: the dashboard's output still holds its widget, and
  taskscope's renderer (js/lab/src/saved.js) shows the last snapshot in its place;
* kernel SIGKILLed in the middle of a map: the snapshot from at most a few seconds before;
* an untrusted copy (edited outside Jupyter): the sanitised snapshot, charts included;
* the nbconvert HTML opened from file:// with every network request refused.

Screenshots go to tests/browser/screenshots/ (look at them).
Run:  .venv/bin/python -m pytest -m browser -s tests/browser/test_saved_notebooks.py
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

pytest.importorskip("playwright")

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from test_notebooks_browser import ALL_CELLS_RAN, shoot

pytestmark = pytest.mark.browser

VIEW_MIME = "application/vnd.taskscope.view+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_ERROR = "Error displaying widget"

SETUP = '''%load_ext taskscope
import os, time
from taskscope import Pool

def square(x):
    time.sleep(0.001)
    return x * x

def parse(x):
    if x % 9 == 4:
        raise ValueError(f"cannot parse item {x}")
    return x

def slow(x):
    time.sleep(0.05)
    return x

pool = Pool(2, name="saved-demo")
display(pool.dashboard())'''
MAPS = "for i in range(3):\n    pool.map(square, range(300))"
FAILING = ('try:\n    pool.map(parse, range(40))\nexcept ValueError as exc:\n'
           '    print("caught:", exc)')
LAMBDA = 'pool.map(lambda x: -x, range(100))\nprint("maps done")'
SHUTDOWN = "pool.shutdown()"
KILLED = 'print(f"KERNEL_PID={os.getpid()}", flush=True)\npool.map(slow, range(600))'


def write_notebook(path: Path, cells: list[str], markdown: str | None = None) -> None:
    nb: dict[str, Any] = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "source": src,
                   "outputs": [], "execution_count": None} for i, src in enumerate(cells)],
    }
    if markdown:
        nb["cells"].insert(0, {"cell_type": "markdown", "id": "md", "metadata": {},
                               "source": markdown})
    path.write_text(json.dumps(nb, indent=1))


def wait_kernel(page: Any, server: Any, notebook: str, sockets: list[str]) -> str:
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        sessions = [s for s in server.api("/api/sessions") if s["path"].endswith(notebook)]
        if sessions and any(sessions[0]["kernel"]["id"] in u for u in sockets):
            page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]',
                                   timeout=60_000)
            return str(sessions[0]["kernel"]["id"])
        page.wait_for_timeout(200)
    raise TimeoutError(f"{notebook}: no kernel connection ({sockets})")


def open_notebook(page: Any, server: Any, notebook: str) -> str:
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(server.url(notebook))
    return wait_kernel(page, server, notebook, sockets)


def menu(page: Any, top: str, command: str, timeout: float = 30_000) -> None:
    page.click(f'.lm-MenuBar-item:has-text("{top}")', timeout=timeout)
    page.click(f'.lm-Menu-item[data-command="{command}"]', timeout=timeout)


def run_all(page: Any) -> None:
    menu(page, "Run", "runmenu:run-all")


def saved_outputs(server: Any, notebook: str) -> list[dict[str, Any]]:
    """The outputs of the saved file, read from disk once no save is being written. Not
    through the server (GET /api/contents): reading a notebook that a save is still writing
    (slow under load), the server takes it for broken and puts its intermediate copy back,
    under the save's feet, which then fails with HTTP 500."""
    path = server.root / notebook
    intermediate = path.with_name(f".~{path.name}")  # there while a save writes (atomic_writing)
    deadline = time.monotonic() + 30
    while True:
        try:
            if not intermediate.exists():
                nb = nbformat.reads(path.read_text(), as_version=4)  # (joins split lines)
                break
        except ValueError:
            pass  # half written: the save is not over yet
        if time.monotonic() > deadline:
            raise AssertionError(f"{notebook}: still being saved after 30 s")
        time.sleep(0.05)
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def wait_kernel_restarted(server: Any, kernel_id: str, timeout: float = 60) -> None:
    """Until the server restarted a killed kernel (its restarter does so on its own) and the
    new one is idle. Deleting the session meanwhile races the restart (HTTP 500 under load)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.api(f"/api/kernels/{kernel_id}")["execution_state"] == "idle":
            return
        time.sleep(0.2)
    raise AssertionError(f"kernel {kernel_id} was not restarted within {timeout} s")


def save(page: Any, server: Any, notebook: str, until: Any, timeout: float = 20) -> list[dict[str, Any]]:
    """File > Save, until the saved file's outputs satisfy `until` (saving again if not)."""
    t0 = time.monotonic()
    while True:
        page.keyboard.press("Escape")  # a dialog (kernel restarting) must not take the click
        try:
            menu(page, "File", "docmanager:save", timeout=5_000)
        except PlaywrightTimeoutError:
            # The "Kernel Restarting" dialog of a killed kernel may open only now (late under
            # load), between the Escape and the click it then takes: dismiss it, try again.
            if time.monotonic() - t0 > timeout:
                raise
            continue
        page.wait_for_timeout(700)
        outs = saved_outputs(server, notebook)
        if until(outs):
            return outs
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{notebook}: saved outputs never satisfied the check: "
                                 f"{[sorted(o.get('data', {})) for o in outs]}")


def taskscope_outputs(outs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in outs if "taskscope-static" in str(o.get("data", {}).get("text/html", ""))]


def reopen(page: Any, server: Any, notebook: str) -> None:
    """Stop the kernel, then open the notebook again in a fresh page load."""
    server.shutdown_sessions()
    page.goto("about:blank")
    open_notebook(page, server, notebook)
    page.wait_for_selector(".tss-root", state="visible", timeout=30_000)
    page.wait_for_timeout(1500)  # let the widget manager give up on the missing models


def visible_text(page: Any) -> str:
    return str(page.evaluate("() => document.body.innerText"))


def check_static_page(page: Any, *, bars: int, trusted: bool = True) -> dict[str, Any]:
    """What every reopened page must show: snapshots, charts drawn, no widget error."""
    text = visible_text(page)
    assert WIDGET_ERROR not in text, text[:3000]
    info = page.evaluate("""() => {
      const vis = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
      const root = [...document.querySelectorAll('.tss-root')].filter(vis);
      const imgs = root.flatMap((r) => [...r.querySelectorAll('img')]);
      return {
        roots: root.length,
        bars: [...document.querySelectorAll('.tss-compact')].filter(vis).length,
        panes: root.length ? [...root[0].querySelectorAll('.tss-pane')].map((p) => p.className) : [],
        errors: root.length ? root[0].querySelectorAll('.tss-err').length : 0,
        imgs: imgs.length,
        imgsDrawn: imgs.filter((i) => i.complete && i.naturalWidth > 100).length,
        streamStyled: root.length ? getComputedStyle(root[0].querySelector('.tss-bar')).backgroundColor : '',
      };
    }""")
    assert info["roots"] == 1, info
    assert info["bars"] == bars, info
    assert len(info["panes"]) == 6 and info["errors"] >= 1, info
    assert info["imgs"] >= 4 and info["imgsDrawn"] == info["imgs"], info  # stream + 3 charts
    # Inline styles survive (the sanitiser keeps them): bars have their track colour.
    assert info["streamStyled"] not in ("", "rgba(0, 0, 0, 0)"), info
    assert "cannot parse item 4" in text and "ValueError" in text
    if trusted:
        assert page.locator(".tss-stream[alt]").count() == 1
    return info


# ------------------------------------------------------------------------------ tests
def test_closed_pool_reopened_untrusted_and_nbconvert_jupyterlab(
        page: Any, lab_server: Any, tmp_path: Path) -> None:
    nb = "saved-closed.ipynb"
    write_notebook(lab_server.root / nb, [SETUP, MAPS, FAILING, LAMBDA, SHUTDOWN])
    open_notebook(page, lab_server, nb)
    run_all(page)
    page.wait_for_function(ALL_CELLS_RAN, timeout=90_000, polling=250)
    # Live: the bars finished and left their snapshots, the dashboard too once closed.
    page.wait_for_selector('.tss-root[data-pool-status="closed"]', timeout=20_000)
    outs = save(page, lab_server, nb, lambda o: len(taskscope_outputs(o)) == 6)
    for o in taskscope_outputs(outs):
        assert WIDGET_MIME not in o["data"] and VIEW_MIME not in o["data"], sorted(o["data"])
    size = (lab_server.root / nb).stat().st_size
    reopen(page, lab_server, nb)
    info = check_static_page(page, bars=5)
    shoot(page, "lab-saved-closed-reopened.png")
    shoot(page, "lab-saved-closed-dashboard.png", page.locator(".tss-root"))
    print(f"\n[browser] closed pool reopened: {info}; saved notebook {size} bytes")
    check_untrusted_copy_and_nbconvert(page, lab_server, nb, tmp_path)


def test_live_pool_saved_then_kernel_shut_down_jupyterlab(page: Any, lab_server: Any) -> None:
    check_live_saved(page, lab_server, "lab")


def test_live_pool_saved_then_kernel_shut_down_notebook7(page: Any, nb7_server: Any) -> None:
    check_live_saved(page, nb7_server, "nb7")


def check_live_saved(page: Any, server: Any, app: str) -> None:
    nb = f"saved-live-{app}.ipynb"
    write_notebook(server.root / nb, [SETUP, MAPS, FAILING, LAMBDA])
    open_notebook(page, server, nb)
    run_all(page)
    page.wait_for_function(ALL_CELLS_RAN, timeout=90_000, polling=250)
    # The live dashboard is drawn by the widget inside taskscope's renderer.
    page.wait_for_selector('.ts-saved-view[data-ts-saved="live"] .ts-root', timeout=20_000)

    def dashboard_current(outs: list[dict[str, Any]]) -> bool:
        dash = [o for o in outs if VIEW_MIME in o.get("data", {})
                and o["data"][VIEW_MIME]["view"] == "dashboard"]
        # The snapshot written by the renderer counts the last map (100 items of <lambda>).
        return bool(dash) and 'data-fn="&lt;lambda&gt;" data-done="100"' in dash[0]["data"]["text/html"]

    outs = save(page, server, nb, dashboard_current)
    dash = next(o for o in outs if VIEW_MIME in o.get("data", {}))
    assert WIDGET_MIME in dash["data"] and "cannot parse item 4" in dash["data"]["text/html"]
    reopen(page, server, nb)
    info = check_static_page(page, bars=5)
    assert page.locator('.ts-saved-view[data-ts-saved="snapshot"]').count() == 1
    shoot(page, f"{app}-saved-live-reopened.png")
    shoot(page, f"{app}-saved-live-dashboard.png", page.locator(".tss-root"))
    print(f"\n[browser] {app}: live pool saved, kernel shut down, reopened: {info}")


def test_kernel_sigkilled_mid_map_jupyterlab(page: Any, lab_server: Any) -> None:
    nb = "saved-killed.ipynb"
    write_notebook(lab_server.root / nb, [SETUP, MAPS, FAILING, KILLED])
    kernel_id = open_notebook(page, lab_server, nb)
    run_all(page)
    # The long map runs: wait until its bar showed progress and a periodic snapshot (every
    # 5 s) reached the output, then kill the kernel as the OOM killer would.
    page.wait_for_selector('.ts-compact[data-fn="slow"]', timeout=60_000)
    page.wait_for_function(
        "() => Number(document.querySelector('.ts-compact[data-fn=\"slow\"]')?.dataset.done) > 0",
        timeout=30_000)
    page.wait_for_timeout(6500)
    outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    pid = int(re.search(r"KERNEL_PID=(\d+)", outputs).group(1))
    done_before = int(page.locator('.ts-compact[data-fn="slow"]').get_attribute("data-done"))
    os.kill(pid, signal.SIGKILL)
    page.wait_for_timeout(1500)

    def has_partial_bar(outs: list[dict[str, Any]]) -> bool:
        bars = [o for o in outs if 'data-fn="slow"' in str(o.get("data", {}).get("text/html", ""))]
        return bool(bars) and 'data-status="running"' in bars[0]["data"]["text/html"]

    outs = save(page, lab_server, nb, has_partial_bar)
    bar_html = next(o["data"]["text/html"] for o in outs
                    if 'data-fn="slow"' in str(o.get("data", {}).get("text/html", "")))
    saved_done = int(bar_html.split('data-done="', 1)[1].split('"', 1)[0])
    assert 0 < saved_done <= 600, bar_html[:400]
    wait_kernel_restarted(lab_server, kernel_id)  # (it was busy with the map until killed)
    reopen(page, lab_server, nb)
    info = check_static_page(page, bars=5)
    bar = page.locator('.tss-compact[data-fn="slow"]')
    assert bar.get_attribute("data-status") == "running"
    shoot(page, "lab-saved-killed-reopened.png")
    shoot(page, "lab-saved-killed-dashboard.png", page.locator(".tss-root"))
    print(f"\n[browser] SIGKILLed kernel reopened: {info}; the slow bar showed {done_before} "
          f"live, its saved snapshot {saved_done} of 600")


def check_untrusted_copy_and_nbconvert(page: Any, lab_server: Any, src: str, tmp_path: Path) -> None:
    """A saved notebook copied and edited outside Jupyter (untrusted: only the sanitiser's
    HTML), and its nbconvert export opened from disk with the network refused."""
    lab_server.shutdown_sessions()

    # An edit outside Jupyter drops the signature: JupyterLab opens the copy untrusted.
    nb = json.loads((lab_server.root / src).read_text())
    nb["cells"].insert(0, {"cell_type": "markdown", "id": "note", "metadata": {},
                           "source": "Copied by hand."})
    copy = "saved-copy-untrusted.ipynb"
    (lab_server.root / copy).write_text(json.dumps(nb))
    page.goto("about:blank")
    open_notebook(page, lab_server, copy)
    page.wait_for_selector(".tss-root", state="visible", timeout=30_000)
    page.wait_for_timeout(800)
    # Untrusted: the sanitiser ran (it strips data-* attributes) and still the charts draw.
    assert page.locator(".tss-root[data-pool-status]").count() == 0
    info = check_static_page(page, bars=5, trusted=False)
    shoot(page, "lab-untrusted-copy.png")
    shoot(page, "lab-untrusted-copy-dashboard.png", page.locator(".tss-root"))
    lab_server.shutdown_sessions()

    # nbconvert, as GitHub and nbviewer render notebooks, opened from file://.
    out = tmp_path / "export"
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html",
                    str(lab_server.root / src), "--output-dir", str(out)],
                   check=True, capture_output=True, timeout=120)
    html_file = out / src.replace(".ipynb", ".html")
    refused: list[str] = []

    def refuse(route: Any) -> None:
        if not route.request.url.startswith(("file:", "data:")):
            refused.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    export = page.context.new_page()
    export.route("**/*", refuse)
    export.goto(html_file.as_uri())
    export.wait_for_selector(".tss-root", state="visible", timeout=20_000)
    export.wait_for_timeout(500)
    ninfo = check_static_page(export, bars=5)
    shoot(export, "nbconvert-export.png")
    shoot(export, "nbconvert-export-dashboard.png", export.locator(".tss-root"))
    our = [u for u in refused if "taskscope" in u]
    assert not our, our  # the snapshot needs nothing from the network
    print(f"\n[browser] untrusted copy: {info}; nbconvert export ({html_file.stat().st_size} "
          f"bytes): {ninfo}; requests refused (nbconvert's own template): {len(refused)}")
    export.close()
