"""The pop-out page of a pool whose work ended before any watcher existed.

The Jupyter server is stopped while a script's pool does all its work, then started again:
its tracker subscribes late and must be told the whole story by the join snapshot
(pool/history.py). The page, opened after that, and the same page reloaded, must show what a
watcher from the start shows: every kept task-stream record, per-function counts, the error.
Screenshot: tests/browser/screenshots/popout-late.png.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import HERE, Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parents[1] / "browser" / "screenshots"  # git-ignored

READ = """() => {
  const canvas = document.querySelector('canvas.ts-stream-canvas');
  const stat = (k) => Number(document.querySelector(`[data-stat="${k}"] .ts-stat-v`)
                               ?.textContent.replace(/[^0-9]/g, '') ?? -1);
  return {kept: Number(canvas?.dataset.total ?? -1), done: stat('done'), erred: stat('erred'),
          errors: document.querySelectorAll('.ts-err').length, text: document.body.innerText};
}"""


def test_popout_opened_after_the_work_shows_its_whole_story(
        own_server: Server, tmp_path: Path, page: Any) -> None:
    server = own_server
    server.stop()  # nobody watches while the pool works
    stop = tmp_path / "stop"
    proc = subprocess.Popen([sys.executable, str(HERE / "_late_pool_script.py"), "late-pool",
                             str(stop)], env=server.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=str(HERE))
    server.scripts.append(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("WORKED "), (line, proc.stderr.read() if proc.stderr else "")
    _, pool_id, facts = line.split(" ", 2)
    records, done = json.loads(facts)["records"], json.loads(facts)["done"]
    assert records > 200
    server.start()  # its tracker joins now, after the work
    server.wait_for(lambda: any(p["id"] == pool_id for p in server.pools()), what="the pool")

    page.set_viewport_size({"width": 1200, "height": 1000})
    page.goto(f"{server.root}taskscope/pools/{pool_id}?token={server.token}")
    page.wait_for_selector("[data-connected='1']", timeout=15000)
    want = f"() => Number(document.querySelector('canvas.ts-stream-canvas')?.dataset.total) === {records}"
    page.wait_for_function(want, timeout=15000)
    seen = page.evaluate(READ)
    assert seen["done"] == done and done >= 2000 + 20 + 4 + 4 and seen["erred"] == 1, seen
    assert seen["errors"] == 1 and "picky about 4" in seen["text"], seen["text"]
    assert "square" in seen["text"] and "picky" in seen["text"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "popout-late.png"), full_page=True)

    page.reload()  # a reloaded page: the same story again
    page.wait_for_selector("[data-connected='1']", timeout=15000)
    page.wait_for_function(want, timeout=15000)
    again = page.evaluate(READ)
    assert {k: again[k] for k in ("kept", "done", "erred", "errors")} == \
        {k: seen[k] for k in ("kept", "done", "erred", "errors")}

    # The graph pane of the same late page: the diamond the pool still holds, drawn as tasks.
    page.goto(f"{server.root}taskscope/pools/{pool_id}?panes=graph&token={server.token}")
    page.wait_for_selector("[data-connected='1']", timeout=15000)
    page.wait_for_function("() => Number(document.querySelector('canvas.ts-graph-canvas')"
                           "?.dataset.nodes) === 4", timeout=15000)
    text = page.evaluate("() => document.body.innerText")
    assert "joined late" not in text and "add" in text and "square" in text, text
    page.screenshot(path=str(SHOTS / "popout-late-graph.png"), full_page=True)
    stop.touch()
    proc.communicate(timeout=30)
