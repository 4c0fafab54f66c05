"""The pop-out page in Debian's chromium: it draws a script pool live and keeps its final state."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parents[1] / "browser" / "screenshots"  # git-ignored


def test_page_draws_a_script_pool(server: Server, tmp_path: Path, page: Any) -> None:
    go = tmp_path / "go"
    proc, pool_id = server.start_script("page-pool", 60, go)
    server.wait_for(lambda: any(p["id"] == pool_id for p in server.pools()), what="the pool")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(f"{server.root}taskscope/pools/{pool_id}?token={server.token}")
    page.wait_for_selector("[data-connected='1']", timeout=15000)
    go.touch()
    page.wait_for_function(
        "() => document.title.startsWith('page-pool')", timeout=15000)
    # the pool finishes: the page keeps its final state and says so
    proc.communicate(timeout=30)
    page.wait_for_selector("text=Pool finished", timeout=15000)
    page.screenshot(path=str(SHOTS / "popout-page-final.png"), full_page=True)
    body = page.inner_text("body")
    assert "slow_square" in body
