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


PANES = ("progress", "task-stream", "memory", "workers", "errors", "resources")


def test_page_renders_every_pane_and_follows_a_restarted_pool(
        server: Server, tmp_path: Path, page: Any) -> None:
    go1, go2 = tmp_path / "go1", tmp_path / "go2"
    proc1, id1 = server.start_script("restart-pool", 30, go1)
    server.wait_for(lambda: any(p["id"] == id1 for p in server.pools()), what="the first pool")
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(f"{server.root}taskscope/pools/{id1}?token={server.token}")
    page.wait_for_selector("[data-connected='1']", timeout=15000)
    for pane in PANES:
        page.wait_for_selector(f"section[data-pane='{pane}']", timeout=15000)
    go1.touch()
    proc1.communicate(timeout=30)
    page.wait_for_selector("text=Pool finished", timeout=15000)
    assert page.evaluate("document.body.dataset.poolId") == id1

    # the same script again: a new pool with the same name; the page follows it
    proc2, id2 = server.start_script("restart-pool", 60, go2)
    assert id2 != id1
    page.wait_for_function(f"() => document.body.dataset.poolId === '{id2}'", timeout=15000)
    page.wait_for_selector("text=Pool restarted", timeout=5000)
    assert f"taskscope/pools/{id2}" in page.url
    page.wait_for_selector(f".ts-root[data-pool-id='{id2}'][data-connected='1']", timeout=15000)
    # the new pool's first state replaced the old final one
    page.wait_for_selector(".ts-root[data-pool-status]:not([data-pool-status='closed'])",
                           timeout=15000)
    go2.touch()
    # live again: the new pool's counts grow past zero and the finished banner goes away
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-stat]')].some("
        "s => s.dataset.stat === 'done' && parseInt(s.textContent) >= 5)", timeout=15000)
    page.wait_for_function(
        "() => !document.body.innerText.includes('Pool finished')", timeout=15000)
    for pane in PANES:
        assert page.query_selector(f"section[data-pane='{pane}']") is not None, pane
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "popout-restart.png"), full_page=True)
    proc2.communicate(timeout=30)
    page.wait_for_selector("text=Pool finished", timeout=15000)


def test_page_reconnects_after_a_server_restart(own_server: Server, tmp_path: Path,
                                                page: Any) -> None:
    server = own_server
    go = tmp_path / "go"
    proc, pool_id = server.start_script("server-restart-pool", 120, go)
    server.wait_for(lambda: any(p["id"] == pool_id for p in server.pools()), what="the pool")
    page.goto(f"{server.root}taskscope/pools/{pool_id}?token={server.token}")
    page.wait_for_selector(".ts-root[data-connected='1']", timeout=15000)

    server.stop()
    page.wait_for_selector(".ts-root[data-connected='0']", timeout=15000)
    page.wait_for_selector("text=Disconnected — reconnecting", timeout=5000)
    server.start()  # same port, token and runtime dir: the tracker finds the pool again
    page.wait_for_selector(".ts-root[data-connected='1']", timeout=20000)
    go.touch()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-stat]')].some("
        "s => s.dataset.stat === 'done' && parseInt(s.textContent) >= 5)", timeout=15000)
    assert page.evaluate("document.body.dataset.poolId") == pool_id
    proc.communicate(timeout=30)
    page.wait_for_selector("text=Pool finished", timeout=15000)
