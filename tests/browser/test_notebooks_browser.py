"""The example notebooks, run for real: JupyterLab 4 (and Notebook 7) in headless Chromium.

Each test opens a notebook, waits for its kernel, runs *Run → Run All Cells* through the
menu, waits until every code cell has run, and then asserts on what the widgets rendered,
through the `data-*` attributes the JS panes keep (js/src/*.js):

* per-call progress bar: ``.ts-compact[data-fn][data-done][data-total][data-status]``, and
  once its call finished the static snapshot left in its place, ``.tss-compact`` with the
  same attributes (kernel_ext/saved_output.py);
* memory pane: one ``.ts-mem-row[data-worker]`` per worker;
* task stream: ``canvas.ts-stream-canvas[data-rects]``;
* errors pane: ``.ts-err`` cards with the worker's traceback in ``pre.ts-tb``.

Screenshots go to tests/browser/screenshots/ (git-ignored): look at them.

Run:  .venv/bin/python -m pytest -m browser -s tests/browser
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright")

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("TASKSCOPE_SHOTS", Path(__file__).parent / "screenshots"))
RUN_TIMEOUT_MS = 90_000

# Records every data-done value a progress bar showed, to prove the browser saw it grow.
RECORD_PROGRESS = """
window.__tsDone = [];
new MutationObserver((muts) => {
  for (const m of muts) {
    const t = m.target;
    if (t.classList && t.classList.contains('ts-compact'))
      window.__tsDone.push([t.dataset.fn, Number(t.dataset.done)]);
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-done']});
"""

# True once every code cell shows an execution count ("[3]:"), none "[*]:" or "[ ]:".
ALL_CELLS_RAN = """
() => {
  const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
  return prompts.length > 0 && prompts.every((p) => /^\\[\\d+\\]:?$/.test(p.textContent.trim()));
}
"""
# The same for every code cell but the last (the notebooks end with pool.shutdown()).
ALL_BUT_LAST_RAN = ALL_CELLS_RAN.replace("prompts.length > 0", "prompts.pop() && prompts.length > 0")
# A per-call bar, live or (its call finished) the static snapshot that replaced it.
BAR = ":is(.ts-compact, .tss-compact)"


def open_and_run_all(page: Any, server: Any, notebook: str, keep_last: bool = False) -> float:
    """Open `notebook`, wait for its kernel, Run All via the menu, wait until all cells ran.
    With `keep_last`, run all cells above the last one (the pool's shutdown), so that the
    live dashboard can be checked before `run_last_cell` closes the pool."""
    t0 = time.monotonic()
    page.add_init_script(RECORD_PROGRESS)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(server.url(notebook))
    # The idle indicator exists before any kernel does: wait for the session, then for the
    # page's websocket to that kernel, then for idle (env-notes, "Browser tests").
    kernel_id = None
    while time.monotonic() - t0 < 60:
        sessions = [s for s in server.api("/api/sessions") if s["path"].endswith(notebook)]
        if sessions:
            kernel_id = sessions[0]["kernel"]["id"]
            if any(kernel_id in url for url in sockets):
                break
        page.wait_for_timeout(200)  # not time.sleep: Playwright delivers events only here
    else:
        raise TimeoutError(f"{notebook}: no kernel connection (kernel {kernel_id}, {sockets})")
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=60_000)
    if keep_last:
        page.locator(".jp-Notebook .jp-Cell").last.locator(".jp-InputPrompt").click()
    page.click('.lm-MenuBar-item:has-text("Run")')
    page.click('.lm-Menu-item[data-command="%s"]'
               % ("notebook:run-all-above" if keep_last else "runmenu:run-all"))
    page.wait_for_function(ALL_BUT_LAST_RAN if keep_last else ALL_CELLS_RAN,
                           timeout=RUN_TIMEOUT_MS, polling=250)
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=30_000)
    return time.monotonic() - t0


def run_last_cell(page: Any, app: str) -> None:
    """Run the notebook's last cell (`pool.shutdown()`): the pool's dashboards turn into
    their static snapshots (kernel_ext/saved_output.py), in the page as in the saved file."""
    page.locator(".jp-Notebook .jp-Cell").last.locator(".jp-InputPrompt").click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function(ALL_CELLS_RAN, timeout=RUN_TIMEOUT_MS, polling=250)
    page.wait_for_selector('.jp-OutputArea-output .tss-root[data-pool-status="closed"]',
                           timeout=20_000)
    page.wait_for_function(
        "() => !document.querySelector('.jp-OutputArea-output .ts-root:has(.ts-pane-memory)')",
        timeout=15_000)
    text = page.evaluate("() => document.body.innerText")
    assert "Error displaying widget" not in text
    static = page.locator(".jp-OutputArea-output .tss-root").first
    assert static.locator(".tss-pane-task-stream img.tss-stream").count() == 1
    shoot(page, f"{app}-{page.url.split('/')[-1].split('.')[0]}-closed-static.png", static)


def compact(page: Any, fn: str) -> Any:
    return page.locator(f'.jp-OutputArea-output {BAR}[data-fn="{fn}"]')


def expect_bar_done(page: Any, fn: str, total: int) -> None:
    sel = (f'.jp-OutputArea-output {BAR}[data-fn="{fn}"][data-done="{total}"]'
           f'[data-total="{total}"][data-status="done"]')
    page.wait_for_selector(sel, timeout=15_000)


def dashboard(page: Any, index: int = 0) -> Any:
    """The index-th full dashboard (one with a memory pane) in the page."""
    return page.locator('.jp-OutputArea-output .ts-root:has(.ts-pane-memory)').nth(index)


def expect_dashboard_drawn(page: Any, dash: Any, n_workers: int) -> dict[str, Any]:
    dash.scroll_into_view_if_needed()
    page.wait_for_function(
        """([el, n]) => el.querySelectorAll('.ts-mem-row[data-worker]').length >= n
             && Number(el.querySelector('canvas.ts-stream-canvas')?.dataset.rects ?? 0) > 0""",
        arg=[dash.element_handle(), n_workers], timeout=15_000)
    return dash.evaluate(
        """(el) => ({
             memRows: el.querySelectorAll('.ts-mem-row[data-worker]').length,
             rss: [...el.querySelectorAll('.ts-mem-row')].map((r) => Number(r.dataset.rss)),
             rects: Number(el.querySelector('canvas.ts-stream-canvas').dataset.rects),
             streamTotal: Number(el.querySelector('canvas.ts-stream-canvas').dataset.streamTotal),
             errors: el.querySelectorAll('.ts-err').length,
           })""")


def shoot(page: Any, name: str, locator: Any = None) -> Path:
    """Screenshot the page (as the user sees it) or one element. Elements are shot in a
    viewport tall enough to hold them: otherwise the notebook scrolls inside its panel and
    the app's toolbars end up painted over the element."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    if locator is None:
        page.screenshot(path=str(path))
        return path
    size = page.viewport_size
    height = int(locator.evaluate("(el) => el.getBoundingClientRect().height"))
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 400)})
    try:
        page.wait_for_timeout(300)  # let the panes re-fit their canvases
        locator.scroll_into_view_if_needed()
        locator.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    return path


def no_js_errors(messages: list[str]) -> list[str]:
    return [m for m in messages if "taskscope" in m.lower() or "ts-" in m]


def check_quickstart(page: Any, server: Any, app: str) -> None:
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    took = open_and_run_all(page, server, "quickstart.ipynb", keep_last=True)

    expect_bar_done(page, "slow_square", 2000)
    expect_bar_done(page, "<lambda>", 500)
    flaky = compact(page, "flaky")
    page.wait_for_selector(f'{BAR}[data-fn="flaky"][data-status="erred"]', timeout=15_000)
    assert int(flaky.get_attribute("data-erred")) >= 1
    # The bar grew while the map ran (not only a final value).
    seen = [d for fn, d in page.evaluate("window.__tsDone") if fn == "slow_square"]
    assert len({d for d in seen if 0 < d < 2000}) >= 2, f"no live progress seen: {seen}"

    dash = dashboard(page)
    info = expect_dashboard_drawn(page, dash, 2)
    assert info["memRows"] == 2, info
    assert info["streamTotal"] >= info["rects"] > 0, info

    shoot(page, f"{app}-quickstart-page.png")
    shoot(page, f"{app}-quickstart-dashboard.png", dash)
    shoot(page, f"{app}-quickstart-resources.png", dash.locator(".ts-pane-resources"))
    shoot(page, f"{app}-quickstart-progress.png",
          compact(page, "slow_square").locator("xpath=ancestor::div[contains(@class,'jp-OutputArea-output')]"))
    print(f"\n[browser] {app} quickstart: all cells ran in {took:.1f} s; dashboard {info}; "
          f"progress values seen {seen[:8]}...")
    assert not no_js_errors(console), console
    run_last_cell(page, app)


def check_failing_tasks(page: Any, server: Any, app: str) -> None:
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    took = open_and_run_all(page, server, "failing-tasks.ipynb", keep_last=True)

    # The raises-exception cell shows the exception with the worker traceback as its cause,
    # and Run All carried on to the end (the last cell ran: all prompts are numbered).
    err_out = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    text = "\n".join(err_out.all_inner_texts())
    assert "RemoteTraceback" in text and "direct cause" in text, text[:2000]
    assert "cannot parse item 3" in text

    page.wait_for_selector(f'{BAR}[data-fn="parse"][data-status="erred"]', timeout=15_000)
    page.wait_for_selector(f'{BAR}[data-fn="fragile"][data-status="erred"]', timeout=15_000)
    expect_bar_done(page, "<lambda>", 300)  # the pool kept working after a worker died
    outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    assert "WorkerDiedError" in outputs and "re-raised locally: cannot parse item 3" in outputs

    # The full dashboard: memory bars, task stream and errors with the traceback text.
    dash = dashboard(page)
    info = expect_dashboard_drawn(page, dash, 2)
    page.wait_for_function(
        "(el) => el.querySelectorAll('.ts-err').length >= 2", arg=dash.element_handle(),
        timeout=15_000)
    tracebacks = dash.locator("pre.ts-tb").evaluate_all("(els) => els.map((e) => e.textContent)")
    assert any("Traceback (most recent call last)" in tb and "cannot parse item" in tb
               for tb in tracebacks), tracebacks[:2]
    types = dash.locator(".ts-err").evaluate_all("(els) => els.map((e) => e.dataset.excType)")
    assert "ValueError" in types, types

    # The errors-only view from `%taskscope --panes errors`.
    errors_only = page.locator('.jp-OutputArea-output .ts-root:has(.ts-pane-errors):not(:has(.ts-pane-memory))')
    assert errors_only.count() == 1
    errors_only.locator("details.ts-err-details").first.evaluate("(d) => { d.open = true; }")

    shoot(page, f"{app}-failing-tasks-page.png")
    shoot(page, f"{app}-failing-tasks-dashboard.png", dash)
    shoot(page, f"{app}-failing-tasks-errors-pane.png", errors_only)
    shoot(page, f"{app}-failing-tasks-exception-cell.png",
          err_out.first.locator("xpath=ancestor::div[contains(@class,'jp-Cell ')][1]"))
    print(f"\n[browser] {app} failing-tasks: all cells ran in {took:.1f} s; dashboard {info}; "
          f"error types {sorted(set(types))}")
    assert not no_js_errors(console), console
    assert re.search(r"\bdied\b", outputs)
    run_last_cell(page, app)


def check_scheduler_graph(page: Any, server: Any, app: str) -> None:
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    took = open_and_run_all(page, server, "scheduler-graph.ipynb", keep_last=True)
    outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
    text = "\n".join(outputs)
    assert "15 ['a', 'b', 'c', 'd'] True" in text, text[:2000]
    assert "(524800, 524800)" in text and "5050" in text
    assert "after release" in text
    dash = dashboard(page)
    info = expect_dashboard_drawn(page, dash, 2)
    # The submit rows of the dashboard (one per function) end with every task done.
    rows = {}
    for fn in ("add", "inc"):
        row = dash.locator(f'.ts-prow[data-fn="{fn}"]').first
        page.wait_for_function(
            "(el) => el && Number(el.dataset.total) > 0 && el.dataset.done === el.dataset.total",
            arg=row.element_handle(), timeout=15_000)
        rows[fn] = (int(row.get_attribute("data-done")), int(row.get_attribute("data-total")))
    assert rows["add"][1] >= 1023 + 2 and rows["inc"][1] >= 1024 + 100 + 2, rows
    shoot(page, f"{app}-scheduler-graph-dashboard.png", dash)
    # The graph pane's dashboard (panes=["graph"]): the diamond, the tree and the sum, each
    # task a node (fewer than 5,000), every one ended, the diamond's edges among them.
    graph = page.locator(".jp-OutputArea-output .ts-pane-graph").first
    canvas = graph.locator("canvas.ts-graph-canvas")
    # (the diamond's cell may run before the kernel's collector joined the pool's events:
    # those tasks are counted and said to be missing, not drawn)
    total = 4 + 2047 + 101 + 1
    page.wait_for_function("([c, p, n]) => c && Number(c.dataset.nodes) + Number(p.dataset.missed) === n",
                           arg=[canvas.element_handle(), graph.element_handle(), total], timeout=15_000)
    assert int(canvas.get_attribute("data-nodes")) >= total - 4
    assert graph.get_attribute("data-mode") == "tasks"
    assert int(canvas.get_attribute("data-edges")) >= 2046 + 100  # the tree, the sum
    fns = {r.get_attribute("data-fn"): r.inner_text() for r in graph.locator(".ts-graph-group").all()}
    assert {"inc", "add", "sum"} <= set(fns), fns
    shoot(page, f"{app}-scheduler-graph-graph-pane.png", graph)
    print(f"\n[browser] {app} scheduler-graph: all cells ran in {took:.1f} s; dashboard {info}; "
          f"submit rows (done, total) {rows}")
    assert not no_js_errors(console), console
    run_last_cell(page, app)


# ------------------------------------------------------------------------------ tests
def test_quickstart_jupyterlab(page: Any, lab_server: Any) -> None:
    check_quickstart(page, lab_server, "lab")


def test_quickstart_notebook7(page: Any, nb7_server: Any) -> None:
    check_quickstart(page, nb7_server, "nb7")


def test_failing_tasks_jupyterlab(page: Any, lab_server: Any) -> None:
    check_failing_tasks(page, lab_server, "lab")


def test_scheduler_graph_jupyterlab(page: Any, lab_server: Any) -> None:
    check_scheduler_graph(page, lab_server, "lab")
