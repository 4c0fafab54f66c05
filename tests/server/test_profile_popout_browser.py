"""The profile pane live in the pop-out page (Debian's Chromium, a real Jupyter server, a
profiling pool in a plain script): the flame graph grows while the map runs, and the page's
final samples are the ones `pool.profile()` counted."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parents[1] / "browser" / "screenshots"  # git-ignored


def test_profile_pane_live_in_the_popout_page(server: Server, tmp_path: Path, page: Any) -> None:
    go = tmp_path / "go"
    proc, pool_id = server.start_script("profiling", 100, go, script="_profile_pool_script.py")
    server.wait_for(lambda: any(p["id"] == pool_id for p in server.pools()), what="the pool")
    page.set_viewport_size({"width": 1200, "height": 700})
    page.goto(f"{server.root}taskscope/pools/{pool_id}?panes=profile&token={server.token}")
    page.wait_for_selector("[data-connected='1']", timeout=15000)
    pane = "section[data-pane='profile']"
    assert page.locator("section[data-pane]").count() == 1  # only the pane asked for
    go.touch()
    # live: samples arrive while the map runs (it takes ~2 s on 2 workers)
    page.wait_for_function(f"() => Number(document.querySelector(\"{pane}\")?.dataset.samples) > 0",
                           timeout=15000)
    assert page.locator("text=Pool finished").count() == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(pane).screenshot(path=str(SHOTS / "profile-popout-live.png"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    samples = int(out.split("PROFILE")[1].split()[0])
    page.wait_for_selector("text=Pool finished", timeout=15000)
    page.wait_for_function(
        f"() => Number(document.querySelector(\"{pane}\").dataset.samples) === {samples}",
        timeout=10000)
    hot = page.locator(f"{pane} [data-role='hottest'] tbody tr").first
    assert hot.get_attribute("data-name") == "hot_helper"
    # a script's functions travel by value; the page still names their file and line
    assert hot.locator(".ts-hot-file").inner_text().endswith("_profile_pool_script.py:18")
    names = page.eval_on_selector_all(f"{pane} .ts-flame-box", "els => els.map(e => e.dataset.name)")
    assert names[:3] == ["all", "outer", "hot_helper"]
    page.locator(pane).screenshot(path=str(SHOTS / "profile-popout-final.png"))
