"""The profile pane in Debian's Chromium: a real profiling pool's report, opened offline.

The report draws the same JS panes as the widget and the pop-out page from the embedded
State, so this is the pane a user sees: the flame graph of `Pool(profile=True)`'s stack
samples with the map's inner helper as its widest frame below the task's function, the
hottest frames as text, the picker (all calls, one function, one call) giving the counts
`pool.profile()` gives, zooming into a frame, and the pane in the Panes menu.

Screenshots: tests/browser/screenshots/profile-*.png (look at them).
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from test_report_browser import SHOTS, open_offline, shoot

from taskscope import Pool

pytestmark = [pytest.mark.browser]


def hot_helper(seconds: float) -> int:
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def summarise(values: list[float]) -> float:
    """Library code below ours: statistics' pure-Python functions, a few frames deep."""
    end = time.perf_counter() + 0.006
    spread = 0.0
    while time.perf_counter() < end:
        spread = statistics.pvariance(values)
    return spread


def outer(x: int) -> int:
    summarise([float(i) for i in range(200)])
    return hot_helper(0.03) and x


def other(x: int) -> int:
    return hot_helper(0.01) and x


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> Any:
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path_factory.mktemp("runtime")))
    try:
        with Pool(2, name="profiled-pool", profile=True) as pool:
            pool.map(outer, range(40))
            pool.map(other, range(30))
            pool.map(outer, range(20))
        yield pool
    finally:
        mp.undo()


def pane_state(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => {
      const pane = document.querySelector("section[data-pane='profile']");
      if (!pane) return null;
      const boxes = [...pane.querySelectorAll('.ts-flame-box')].map((b) => ({
        name: b.dataset.name, depth: Number(b.dataset.depth), count: Number(b.dataset.count),
        share: Number(b.dataset.share), width: b.getBoundingClientRect().width }));
      const hot = [...pane.querySelectorAll("[data-role='hottest'] tbody tr")].map((r) =>
        [...r.children].map((td) => td.textContent));
      return { samples: Number(pane.dataset.samples), chosen: pane.dataset.chosen, boxes, hot,
               title: pane.querySelector('.ts-pane-title-extra').textContent,
               options: [...pane.querySelectorAll("select[data-role='pick'] option")].map((o) => o.value) };
    }""")


def test_profile_pane_draws_the_flame_graph_and_the_hottest_frames(
        page: Any, tmp_path: Path, profiled: Any) -> None:
    path = profiled.report(tmp_path / "profiled.html")
    page.set_viewport_size({"width": 1200, "height": 900})
    seen = open_offline(page, path)
    assert not seen["refused"] and not seen["csp"], seen
    page.wait_for_selector("section[data-pane='profile'] .ts-flame-box", timeout=10_000)
    pane = page.locator("section[data-pane='profile']")
    pane.scroll_into_view_if_needed()
    shoot(page, "profile-report.png")
    pane.screenshot(path=str(SHOTS / "profile-pane.png"))
    st = pane_state(page)
    total = profiled.profile()["count"]
    assert st["samples"] == total > 0 and st["chosen"] == "all"
    fns = [o for o in st["options"] if o.startswith("fn:")]
    assert st["options"] == ["all", *fns, "call:3", "call:2", "call:1"]
    assert len(fns) == 1 and fns[0].endswith(".outer")  # the function of two calls
    by_name = {b["name"]: b for b in st["boxes"]}
    assert by_name["all"]["depth"] == 0 and by_name["all"]["share"] == 1
    # the helper is the widest frame below the tasks' functions, and drawn that wide
    below = [b for b in st["boxes"] if b["depth"] >= 2]
    widest = max(below, key=lambda b: b["width"])
    assert widest["name"] == "hot_helper", below
    assert by_name["outer"]["width"] > by_name["other"]["width"] > 0
    # the hottest frames as text: the helper first, with its file:line and share
    name, where, own, _total = st["hot"][0]
    line = hot_helper.__code__.co_firstlineno
    assert name == "hot_helper" and where.endswith(f"test_profile_browser.py:{line}")
    assert float(own.rstrip("%")) > 50
    # library frames under ours are named with their file: statistics' own functions
    assert "summarise" in by_name and any(r[1].startswith("…/python3") or "statistics.py" in r[1]
                                          for r in st["hot"][1:]), st["hot"]
    assert "samples" in st["title"] and "of task time" in st["title"]


def test_picking_a_call_a_function_and_zooming(page: Any, tmp_path: Path, profiled: Any) -> None:
    path = profiled.report(tmp_path / "pick.html")
    page.set_viewport_size({"width": 1200, "height": 900})
    open_offline(page, path)
    page.wait_for_selector("section[data-pane='profile'] .ts-flame-box", timeout=10_000)
    pick = page.locator("section[data-pane='profile'] select[data-role='pick']")
    pick.select_option("call:2")
    st = pane_state(page)
    assert st["chosen"] == "call:2" and st["samples"] == profiled.profile(2)["count"]
    assert {b["name"] for b in st["boxes"]} >= {"all", "other", "hot_helper"}
    assert "outer" not in {b["name"] for b in st["boxes"]}
    fn_choice = next(o for o in st["options"] if o.startswith("fn:"))
    pick.select_option(fn_choice)
    st = pane_state(page)
    assert st["samples"] == profiled.profile(outer)["count"]
    # click the helper's frame: it fills the width; "Zoom out" brings the call back
    page.locator("section[data-pane='profile'] .ts-flame-box[data-name='hot_helper']").first.click()
    zoomed = pane_state(page)
    top = min(zoomed["boxes"], key=lambda b: b["depth"])
    assert top["name"] == "hot_helper" and top["depth"] == 0
    assert "all" not in {b["name"] for b in zoomed["boxes"]}
    assert zoomed["hot"][0][0] == "hot_helper" and zoomed["hot"][0][2] == "100%"
    assert "of the samples" in page.inner_text("section[data-pane='profile'] .ts-flame-tools")
    assert page.locator("section[data-pane='profile'] [data-action='zoom-out']").is_visible()
    page.locator("section[data-pane='profile']").screenshot(path=str(SHOTS / "profile-zoomed.png"))
    page.locator("section[data-pane='profile'] [data-action='zoom-out']").click()
    assert pane_state(page)["boxes"][0]["name"] == "all"


def test_the_profile_pane_is_in_the_panes_menu(page: Any, tmp_path: Path, profiled: Any) -> None:
    path = profiled.report(tmp_path / "menu.html")
    open_offline(page, path)
    page.wait_for_selector("section[data-pane='profile']", timeout=10_000)
    page.locator(".ts-chooser summary").click()
    box = page.locator(".ts-menu-item:has-text('Profile') input")
    assert box.is_checked()
    box.uncheck()
    page.wait_for_selector("section[data-pane='profile']", state="detached", timeout=5000)
    box.check()
    page.wait_for_selector("section[data-pane='profile'] .ts-flame-box", timeout=5000)
