"""What watching costs: a big map in a real kernel with and without the live dashboard,
the comm traffic it sends to the browser, and the task stream's frame time in Chromium.

    python benchmarks/dashboard.py [--quick|--full] [--markdown FILE]

Two kernels run the same map in turns (median of the repetitions): one plain, one with
``%load_ext taskscope`` and ``display(pool.dashboard())``. Every comm message the second one
sends on iopub during the map is counted (JSON content plus binary buffers), as the browser
would receive it. The final counts in the last state update must equal the map's length.
The frame time is measured in Debian's Chromium on the dev harness (js/dev/) with 100,000
task-stream records kept: a forced redraw, read back to include rasterising.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time
import urllib.request

from jupyter_client.manager import KernelManager

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

SETUP = """
from taskscope import Pool
def sq(x):
    return x * x
pool = Pool(2)
pool.map(sq, range(10_000))  # warm the workers up
"""
WATCH = """
%load_ext taskscope
display(pool.dashboard())
"""
RUN = """
import time as _t
_t0 = _t.perf_counter()
_r = pool.map(sq, range({n}))
print("WALL", _t.perf_counter() - _t0, len(_r))
"""


def run_cell(kc, code: str, timeout: float = 600) -> tuple[list[dict], float]:
    """Execute `code`; return every iopub message of it and the wall time reported."""
    msg_id = kc.execute(code)
    msgs, wall = [], float("nan")
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id and msg["msg_type"] != "comm_msg":
            continue
        msgs.append(msg)
        if msg["msg_type"] == "stream" and "WALL" in msg["content"]["text"]:
            wall = float(msg["content"]["text"].split()[1])
        if msg["msg_type"] == "error":
            raise RuntimeError("\n".join(msg["content"]["traceback"]))
        if (msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == msg_id):
            return msgs, wall


def comm_bytes(msgs: list[dict]) -> int:
    total = 0
    for m in msgs:
        if m["msg_type"] in ("comm_msg", "comm_open"):
            total += len(json.dumps(m["content"]))
            total += sum(len(memoryview(b)) for b in m.get("buffers", []))
    return total


def final_done(msgs: list[dict], n: int) -> int:
    """The largest done count of an n-item call in the state updates seen."""
    best = 0
    for m in msgs:
        if m["msg_type"] != "comm_msg":
            continue
        state = m["content"].get("data", {}).get("state", {}).get("state")
        for call in (state or {}).get("calls", []):
            if call.get("total") == n:
                best = max(best, call["counts"]["released"] + call["counts"]["memory"])
    return best


def kernel_bench(n: int, reps: int) -> dict:
    kernels = []
    for watch in (False, True):
        km = KernelManager(kernel_name="python3")
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        run_cell(kc, SETUP)
        if watch:
            run_cell(kc, WATCH)
        kernels.append((km, kc))
    walls = {False: [], True: []}
    traffic, done = [], []
    try:
        for _ in range(reps):
            for watch, (_, kc) in zip((False, True), kernels):
                msgs, wall = run_cell(kc, RUN.format(n=n))
                walls[watch].append(wall)
                if watch:
                    traffic.append(comm_bytes(msgs) / wall)
                    done.append(final_done(msgs, n))
    finally:
        for km, kc in kernels:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    plain, watched = statistics.median(walls[False]), statistics.median(walls[True])
    return {"n": n, "reps": reps, "plain_s": plain, "watched_s": watched,
            "overhead": watched / plain - 1, "traffic_Bps": statistics.median(traffic),
            "final_done": min(done), "walls": walls}


def frame_bench() -> dict:
    from playwright.sync_api import sync_playwright

    port = 8799
    srv = subprocess.Popen([sys.executable, str(ROOT / "js/dev/serve.py"), str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/js/dev/harness.html?mode=dashboard&theme=light"
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']", timeout=20000)
            live = page.evaluate("window.measureStreamFrame(30)")
            page.evaluate("() => { const s = window.__store.state; "
                          "window.__dash.panes['task-stream'].setWindow({t0: s.pool.started, t1: s.now}); }")
            everything = page.evaluate("window.measureStreamFrame(30)")
            kept = page.evaluate("document.querySelector('.ts-stream-canvas').dataset.total")
            browser.close()
    finally:
        srv.terminate()
        srv.wait(5)
    return {"kept": int(kept), "live_ms": live["median"], "all_ms": everything["median"],
            "all_rects": everything["rects"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="200,000 items, 3 repetitions")
    size.add_argument("--full", action="store_true", help="1,000,000 items, 7 repetitions")
    ap.add_argument("--markdown", help="write the table to this file")
    args = ap.parse_args()
    n, reps = (200_000, 3) if args.quick else (1_000_000, 7) if args.full else (1_000_000, 5)
    k = kernel_bench(n, reps)
    f = frame_bench()
    load = os.getloadavg()[0]
    table = "\n".join([
        f"Dashboard cost ({n:,}-item map of x*x, Pool(2), median of {reps}; load {load:.1f}):",
        "",
        "| measure | value | aim |",
        "|---|---|---|",
        f"| map without the dashboard | {k['plain_s']:.3f} s | |",
        f"| map with the live dashboard displayed | {k['watched_s']:.3f} s | |",
        f"| wall-time overhead | {k['overhead'] * 100:+.1f}% | ≤ 3% |",
        f"| comm traffic to the browser during the map | {k['traffic_Bps'] / 1024:.1f} KiB/s | < 50 KB/s |",
        f"| final count in the browser's state | {k['final_done']:,} / {n:,} | exact |",
        f"| task-stream frame, {f['kept']:,} kept, live window | {f['live_ms']:.1f} ms | < 16 ms |",
        f"| task-stream frame, all {f['kept']:,} in view ({f['all_rects']} drawn) | {f['all_ms']:.1f} ms | < 16 ms |",
    ])
    print(table)
    if args.markdown:
        pathlib.Path(args.markdown).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
