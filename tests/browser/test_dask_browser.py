"""`display(taskscope.dashboard(client))` in JupyterLab, on a real LocalCluster, in Chromium.

Runs notebooks/dask-cluster.ipynb (a LocalCluster(processes=True) on loopback, a map, a
graph whose inputs travel between workers, a failure with dependents) and checks what the
panes drew, through their data-* attributes: a progress row per task prefix with its
counts, both workers' memory bars labelled with their addresses, task-stream bars, the
error card with the worker's traceback and the dependent that blames it. Then the server
extension's list (origin "dask", the scheduler's address) and the pop-out page of the
watched cluster. Screenshots go to tests/browser/screenshots/: look at them.
"""
from __future__ import annotations

import time
from typing import Any

import pytest

pytest.importorskip("playwright")
pytest.importorskip("distributed")

from test_notebooks_browser import (  # noqa: E402  (the harness of the notebook tests)
    dashboard,
    expect_dashboard_drawn,
    no_js_errors,
    open_and_run_all,
    shoot,
)

pytestmark = pytest.mark.browser


def prow(dash: Any, fn: str) -> Any:
    return dash.locator(f'.ts-prow[data-fn="{fn}"]').first


def test_dask_dashboard_jupyterlab(page: Any, lab_server: Any) -> None:
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    took = open_and_run_all(page, lab_server, "dask-cluster.ipynb")
    text = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    assert "136 80200" in text, text[:2000]  # total of the graph, sum of the map
    assert "19 of 20 dependents finished" in text

    dash = dashboard(page)
    info = expect_dashboard_drawn(page, dash, 2)
    # Progress: one row per task prefix, with Dask's counts.
    expected = {"slow_inc": (400, 400), "leaf": (16, 16), "pair": (8, 8), "total": (1, 1),
                "fragile": (19, 20), "after": (19, 20)}
    rows = {}
    for fn, (done, submitted) in expected.items():
        page.wait_for_function(
            "([el, d, s]) => el && Number(el.dataset.done) === d && Number(el.dataset.submitted) === s",
            arg=[prow(dash, fn).element_handle(), done, submitted], timeout=20_000)
        row = prow(dash, fn)
        rows[fn] = {k: row.get_attribute(f"data-{k}") for k in ("done", "erred", "status")}
    assert rows["fragile"]["erred"] == "1" and rows["after"]["erred"] == "1", rows
    assert rows["pair"]["status"] == "done", rows
    # Memory and workers: both workers, by their addresses.
    labels = dash.locator(".ts-mem-row .ts-mem-label").all_inner_texts()
    assert len(labels) == 2 and all(x.startswith("127.0.0.1:") for x in labels), labels
    limits = dash.locator(".ts-mem-row").evaluate_all("(els) => els.map((e) => Number(e.dataset.limit))")
    assert all(x > 0 for x in limits), limits
    # Errors: the failure with its traceback, and the dependent naming the task it blames.
    page.wait_for_function("(el) => el.querySelectorAll('.ts-err').length >= 2",
                           arg=dash.element_handle(), timeout=15_000)
    cards = dash.locator(".ts-err").all_inner_texts()
    assert any("cannot handle 7" in c and "fragile-7" in c for c in cards), cards
    assert any("failed because its input 'fragile-7' failed" in c for c in cards), cards
    tbs = dash.locator("pre.ts-tb").evaluate_all("(els) => els.map((e) => e.textContent)")
    assert any("in fragile" in tb and "ValueError: cannot handle 7" in tb for tb in tbs), tbs
    shoot(page, "lab-dask-page.png")
    shoot(page, "lab-dask-dashboard.png", dash)
    shoot(page, "lab-dask-task-stream.png", dash.locator(".ts-pane-task-stream"))

    # The server extension lists the watched cluster; its pop-out page draws the same panes.
    pools = [p for p in lab_server.api("/taskscope/api/pools") if p.get("origin") == "dask"]
    assert len(pools) == 1 and pools[0]["name"] == "local dask", pools
    assert pools[0]["scheduler"].startswith("tcp://127.0.0.1:"), pools
    link = page.locator("a[data-taskscope-popout]").first
    url = link.get_attribute("data-taskscope-popout")
    assert url and pools[0]["id"] in url
    popout = page.context.new_page()
    try:
        popout.goto(url)
        popout.wait_for_function(
            """() => document.querySelectorAll('.ts-mem-row[data-worker]').length === 2
                 && Number(document.querySelector('canvas.ts-stream-canvas')?.dataset.rects ?? 0) > 0
                 && document.querySelectorAll('.ts-prow[data-fn="slow_inc"]').length > 0""",
            timeout=20_000)
        popout.wait_for_timeout(500)
        shoot(popout, "lab-dask-popout.png")
    finally:
        popout.close()
    # The JupyterLab sidebar lists it as a Dask cluster, by its scheduler's address.
    t0 = time.monotonic()
    tab = page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="taskscope-sidebar"]')
    tab.wait_for(timeout=15_000)
    tab.click()
    panel = page.locator("#taskscope-sidebar")
    row = panel.locator('.ts-lab-pool[data-name="local dask"]')
    row.wait_for(timeout=20_000)
    assert row.get_attribute("data-origin") == "dask"
    page.wait_for_function("(el) => el.dataset.workers === '2'", arg=row.element_handle(),
                           timeout=15_000)
    scheduler = pools[0]["scheduler"].split("://", 1)[1]
    assert row.get_attribute("data-origin-text") == f"dask · {scheduler}"
    assert f"dask · {scheduler}" in row.inner_text()
    shoot(page, "lab-dask-sidebar.png", panel)
    print(f"\n[browser] lab dask-cluster: all cells ran in {took:.1f} s; dashboard {info}; "
          f"rows {rows}; pool list {pools[0]['name']} {pools[0]['scheduler']} "
          f"({time.monotonic() - t0:.1f} s)")
    assert not no_js_errors(console), console
