"""Screenshots + task-stream frame timing in Chromium (throw-away dev tool).

    /work/.venv-dev/bin/python js/dev/shoot.py [port]
Writes js/dev/screenshots/*.png and prints JSON results.
"""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def wait_up(url: str) -> None:
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start")


def interactions(page) -> dict:
    """Freeze, pane chooser, zoom/live on the bundled widget with a fake model."""
    out: dict[str, object] = {}
    page.click("[data-action='freeze']")
    page.wait_for_timeout(50)
    out["frozen_attr"] = page.get_attribute(".ts-root", "data-frozen")
    out["frozen_trait"] = page.evaluate("window.__model.get('frozen')")
    page.click("[data-action='freeze']")
    out["resumed_trait"] = page.evaluate("window.__model.get('frozen')")
    page.click(".ts-chooser summary")
    page.uncheck(".ts-menu input[value='errors']")
    page.uncheck(".ts-menu input[value='workers']")
    out["panes_trait"] = page.evaluate("window.__model.get('panes')")
    out["panes_dom"] = page.eval_on_selector_all("[data-pane]", "els => els.map(e => e.dataset.pane)")
    page.check(".ts-menu input[value='errors']")
    page.check(".ts-menu input[value='workers']")
    out["panes_trait_all"] = page.evaluate("window.__model.get('panes')")
    page.click(".ts-chooser summary")
    c = page.locator(".ts-stream-canvas")
    c.scroll_into_view_if_needed()
    box = c.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + 40)
    page.mouse.wheel(0, -600)
    page.wait_for_timeout(100)
    out["after_zoom"] = {k: c.get_attribute("data-" + k) for k in ("live", "rects", "t0", "t1")}
    page.mouse.dblclick(box["x"] + box["width"] * 0.7, box["y"] + 40)
    page.wait_for_timeout(100)
    out["after_dblclick_live"] = c.get_attribute("data-live")
    return out


def check_page(browser, base: str) -> dict:
    """The pop-out page over the dev websocket: live, dropped connection, pool closed."""
    out: dict[str, object] = {}
    page = browser.new_page(viewport={"width": 1200, "height": 900}, color_scheme="dark")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/js/dev/page.html?drop=1")
    page.wait_for_selector(".ts-root[data-connected='1']", timeout=10000)
    page.wait_for_timeout(1500)
    out["rects_live"] = page.get_attribute(".ts-stream-canvas", "data-rects")
    out["total_live"] = page.get_attribute(".ts-stream-canvas", "data-total")
    page.screenshot(path=str(OUT / "page-live-dark.png"), full_page=True)
    page.wait_for_selector(".ts-banner[data-notice='conn']", timeout=8000)
    out["disconnected_text"] = page.text_content(".ts-banner[data-notice='conn']")
    page.screenshot(path=str(OUT / "page-reconnecting-dark.png"))
    page.wait_for_selector(".ts-root[data-connected='1']", timeout=8000)
    page.wait_for_timeout(300)
    out["banner_after_reconnect"] = page.locator(".ts-banner[data-notice='conn']").count()
    page.close()
    page = browser.new_page(viewport={"width": 1200, "height": 900}, color_scheme="light")
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/js/dev/page.html?close=1")
    page.wait_for_selector(".ts-banner[data-notice='finished']", timeout=10000)
    out["finished_text"] = page.text_content(".ts-banner[data-notice='finished']")
    out["title"] = page.title()
    page.screenshot(path=str(OUT / "page-finished-light.png"), full_page=True)
    page.close()
    out["errors"] = errors
    return out


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    only = sys.argv[2:]  # optional shot names
    base = f"http://127.0.0.1:{port}"
    srv = subprocess.Popen([sys.executable, str(HERE / "serve.py"), str(port)], stdout=subprocess.DEVNULL)
    results: dict[str, object] = {}
    try:
        wait_up(base + "/js/dev/harness.html")
        OUT.mkdir(exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            shots = [
                ("dashboard-light", "mode=dashboard&theme=light", "light", 1200),
                ("dashboard-dark", "mode=dashboard&theme=dark", "dark", 1200),
                ("widget-bundle-light", "mode=widget&theme=light", "light", 1200),
                ("compact-light", "mode=compact&theme=light", "light", 1000),
                ("compact-dark", "mode=compact&theme=dark", "dark", 1000),
                ("dashboard-narrow-dark", "mode=dashboard&theme=dark", "dark", 700),
            ]
            for name, query, scheme, width in shots:
                if only and name not in only:
                    continue
                page = browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=1, color_scheme=scheme)
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(f"{base}/js/dev/harness.html?{query}")
                page.wait_for_selector("body[data-ready='1']", timeout=10000)
                page.wait_for_timeout(400)
                if name.startswith("dashboard") and "narrow" not in name:
                    # open one call's details, one worker's insights and one traceback
                    page.click(".ts-prow[data-call-id='2'] .ts-prow-main")
                    page.click(".ts-workers tbody[data-worker='3'] .ts-w-main")
                    page.click(".ts-err[data-error-id='2'] summary")
                    page.wait_for_timeout(200)
                    # hover a task for the tooltip
                    page.locator(".ts-stream-canvas").scroll_into_view_if_needed()
                    box = page.locator(".ts-stream-canvas").bounding_box()
                    assert box
                    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + 16)
                    page.wait_for_timeout(200)
                    pane = page.locator(".ts-pane-task-stream").bounding_box()
                    assert pane
                    page.screenshot(path=str(OUT / f"task-stream-tooltip-{scheme}.png"), clip=pane)
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                results[name] = {"errors": errors}
                if name == "widget-bundle-light":
                    results[name]["interactions"] = interactions(page)
                if name == "dashboard-light":
                    page.mouse.move(0, 0)
                    results["frame"] = page.evaluate("window.measureStreamFrame(20)")
                    # full history zoomed out: all 100k records in view
                    page.evaluate("""() => { const s = window.__store.state; window.__dash.panes['task-stream'].setWindow({t0: s.pool.started, t1: s.now}); }""")
                    results["frame_all_in_view"] = page.evaluate("window.measureStreamFrame(20)")
                    results["attrs"] = page.evaluate("""() => ({
                        root: {...document.querySelector('.ts-root').dataset},
                        canvas: {...document.querySelector('.ts-stream-canvas').dataset},
                        calls: [...document.querySelectorAll('.ts-prow[data-call-id]')].map(e => ({...e.dataset})),
                        mem: [...document.querySelectorAll('.ts-mem-row')].map(e => ({...e.dataset})),
                        errors: [...document.querySelectorAll('.ts-err')].map(e => e.dataset.errorId),
                    })""")
                    page.locator(".ts-pane-task-stream").screenshot(path=str(OUT / "task-stream-all-light.png"))
                page.close()
            results["page"] = check_page(browser, base)
            browser.close()
    finally:
        srv.terminate()
        srv.wait()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
