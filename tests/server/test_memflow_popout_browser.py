"""Memory by function, a transfer and saturation drawn live by the pop-out page (issue 14,
items 3-5), in Debian's Chromium, for a pool run by a plain script: the State the server
extension builds from the pool's events, over its websocket, in the same panes.

Screenshots: tests/browser/screenshots/memflow-popout*.png (look at them).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parents[1] / "browser" / "screenshots"  # git-ignored


def test_popout_draws_memory_by_function_a_transfer_and_saturation_live(
        server: Server, tmp_path: Path, page: Any) -> None:
    go = tmp_path / "go"
    proc, pool_id = server.start_script("memflow-pool", 12, go, "_memflow_pool_script.py")
    try:
        server.wait_for(lambda: any(p["id"] == pool_id for p in server.pools()), what="the pool")
        page.set_viewport_size({"width": 1200, "height": 1000})
        page.goto(f"{server.root}taskscope/pools/{pool_id}?token={server.token}")
        page.wait_for_selector("[data-connected='1']", timeout=15000)
        go.touch()
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "HELD"
        # Live: two function rows (the tables, with the fetched copy; the join), their sum
        # the managed bytes of the worker bars; a red transfer record; both workers busy.
        page.wait_for_function("""() => {
            const rows = [...document.querySelectorAll('.ts-memfn-row')];
            const pane = document.querySelector('.ts-pane-memory');
            const sum = rows.reduce((s, r) => s + Number(r.dataset.bytes), 0);
            return rows.length === 2 && sum > 10e6 && sum === Number(pane.dataset.totalManaged);
        }""", timeout=15000)
        names = page.eval_on_selector_all(".ts-memfn-label", "(els) => els.map((e) => e.textContent)")
        assert names == ["load_table", "join_tables"]
        page.wait_for_function(
            "() => Number(document.querySelector(\"canvas[data-chart='saturation']\").dataset.peak) > 1.5",
            timeout=15000)
        sat = page.eval_on_selector("canvas[data-chart='saturation']", "(c) => ({...c.dataset})")
        assert sat["slots"] == "2" and sat["workers"] == "2", sat
        page.screenshot(path=str(SHOTS / "memflow-popout.png"), full_page=True)
    finally:
        (tmp_path / "go.stop").touch()
        proc.communicate(timeout=30)
    assert proc.returncode == 0
