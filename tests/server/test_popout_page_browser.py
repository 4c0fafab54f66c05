"""The pop-out page in Debian's chromium: it draws a script pool live and keeps its final state."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[1] / "browser" / "screenshots"  # git-ignored


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
def test_page_draws_a_script_pool(server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    go = tmp_path / "go"
    proc, pool_id = server.start_script("page-pool", 60, go)
    server.wait_for(lambda: any(p["id"] == pool_id for p in server.pools()), what="the pool")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
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
        finally:
            browser.close()
