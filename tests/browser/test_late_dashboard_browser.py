"""A dashboard displayed long after the work, in JupyterLab 4 in Chromium, with no
`%load_ext` (nothing watched the pool from the start): it draws the whole story, as a
dashboard watching from the start would: per-function counts, every kept task-stream
record (not "0 kept"), the error with its traceback. Also a closed pool's dashboard.

The notebook is written by the test into the server's root. Screenshots:
tests/browser/screenshots/lab-late-dashboard*.png (look at them).
"""
from __future__ import annotations

import json
import re
from typing import Any

import nbformat
import pytest
from test_notebooks_browser import dashboard, open_and_run_all, shoot

pytestmark = [pytest.mark.browser]

CELLS = [
    """\
import json, time
from taskscope import Pool

def square(x):
    return x * x

def picky(x):
    if x == 4:
        raise ValueError(f"picky about {x}")
    return x

pool = Pool(2, name="late-nb")
pool.map(square, range(3000), chunksize=10)
try:
    pool.map(picky, range(40), chunksize=1)
except ValueError:
    pass
time.sleep(1.1)  # a few resource samples
records = pool.task_stream()
print("FACTS", json.dumps({"records": len(records),
                           "done": sum(r["items"] - r["erred"] for r in records)}))""",
    "display(pool.dashboard())  # long after the work, nothing watched it",
    """\
closed = Pool(2, name="closed-nb")
closed.map(square, range(500), chunksize=5)
closed.shutdown()
closed_records = len(closed.task_stream())
print("CLOSED", closed_records)
display(closed.dashboard())  # a closed pool nobody watched: its static snapshot""",
]

READ = """(el) => {
  const canvas = el.querySelector('canvas.ts-stream-canvas');
  const stat = (k) => Number(el.querySelector(`[data-stat="${k}"] .ts-stat-v`)
                               ?.textContent.replace(/[^0-9]/g, '') ?? -1);
  return {name: el.querySelector('.ts-pool-name')?.textContent, status: el.dataset.poolStatus,
          kept: Number(canvas?.dataset.total ?? -1), done: stat('done'), erred: stat('erred'),
          errors: el.querySelectorAll('.ts-err').length, text: el.innerText};
}"""


def test_dashboard_displayed_late_in_lab_shows_the_whole_story(page: Any, lab_server: Any) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    (lab_server.root / "late-dashboard.ipynb").write_text(nbformat.writes(nb))
    page.set_viewport_size({"width": 1300, "height": 1000})
    open_and_run_all(page, lab_server, "late-dashboard.ipynb")
    outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    facts = json.loads(outputs.split("FACTS ", 1)[1].splitlines()[0])
    closed_records = int(outputs.split("CLOSED ", 1)[1].split()[0])

    late = dashboard(page, 0)
    late.scroll_into_view_if_needed()
    page.wait_for_function(f"(el) => Number(el.querySelector('canvas.ts-stream-canvas')"
                           f"?.dataset.total) === {facts['records']}",
                           arg=late.element_handle(), timeout=15_000)
    seen = late.evaluate(READ)
    assert seen["name"] == "late-nb" and seen["done"] == facts["done"] >= 3004, seen
    assert seen["erred"] == 1 and seen["errors"] == 1 and "picky about 4" in seen["text"]
    text = re.sub(r"(?<=\d)[\s\u202f\u2009,](?=\d)", "", seen["text"])  # "3 000" -> "3000"
    assert "square" in text and "3000 / 3000" in text and "picky" in text, text
    shoot(page, "lab-late-dashboard.png", late)

    # A closed pool's dashboard is its static snapshot at once (kernel_ext/saved_output.py),
    # drawn from the driver's story: every call and the task stream, though nobody watched.
    closed = page.locator('.jp-OutputArea-output .tss-root[data-pool-status="closed"]').first
    closed.wait_for(timeout=15_000)
    gone = re.sub(r"(?<=\d)[\s\u202f\u2009,](?=\d)", "", closed.inner_text())
    assert closed_records > 0 and "closed-nb" in gone and "500 / 500" in gone, gone[:2000]
    assert closed.locator(".tss-pane-task-stream img.tss-stream").count() == 1
    shoot(page, "lab-late-dashboard-closed.png", closed)
