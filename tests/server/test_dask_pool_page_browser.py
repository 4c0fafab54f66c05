"""The pop-out page draws a Pool running on a Dask cluster (Pool(cluster=...)) with the same
panes as a local pool: found through the registry, events through the same publisher."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import HERE, Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parents[1] / "browser" / "screenshots"  # git-ignored


def test_page_draws_a_pool_on_dask(server: Server, tmp_path: Path, page: Any) -> None:
    go = tmp_path / "go"
    proc = subprocess.Popen([sys.executable, str(HERE / "_dask_pool_script.py"), "dask-pool",
                             str(go)], env=server.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=str(HERE))
    server.scripts.append(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("READY "), (line, proc.stderr.read() if proc.stderr else "")
    pool_id = line.split()[1]
    server.wait_for(lambda: any(p["id"] == pool_id for p in server.pools()), what="the pool")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1200, "height": 1000})
    page.goto(f"{server.root}taskscope/pools/{pool_id}?token={server.token}")
    page.wait_for_selector("[data-connected='1']", timeout=15000)
    go.touch()
    page.wait_for_function("() => document.body.innerText.includes('slow_inverse')",
                           timeout=30000)
    page.wait_for_timeout(700)
    page.screenshot(path=str(SHOTS / "dask-pool-page-live.png"), full_page=True)
    assert proc.stdout.readline().strip() == "DONE"
    page.wait_for_function("() => document.body.innerText.includes('ZeroDivisionError')",
                           timeout=15000)
    page.wait_for_timeout(1500)  # the last batches and a worker sample
    page.screenshot(path=str(SHOTS / "dask-pool-page-done.png"), full_page=True)
    body = page.inner_text("body")
    assert "dask-pool" in body and "slow_inverse" in body and "ZeroDivisionError" in body
    (tmp_path / "go.end").touch()
    proc.communicate(timeout=60)
    assert proc.returncode == 0
