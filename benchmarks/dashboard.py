"""What watching costs: a big map in a real kernel with and without the live dashboard,
the comm traffic it sends to the browser, and the task stream's frame time in Chromium.

    python benchmarks/dashboard.py [--quick|--full] [--markdown FILE]

Two kernels run the same map in turns, alternating which goes first (medians of the
repetitions): one plain, one with ``%load_ext taskscope`` (a progress bar under every map)
and ``display(pool.dashboard())``. Both the map's own wall time (timed inside the cell) and
the whole cell's (execute request to idle, as the notebook waits for it, post-cell hooks
included) are compared. Every comm message the second kernel sends on iopub while the cell
runs is counted (JSON content plus binary buffers), as the browser would receive it; what
it sent between cells is dropped first. The final counts must equal the map's length.
The frame time is measured in Debian's Chromium on the dev harness (js/dev/) with 100,000
task-stream records kept: a forced redraw, read back to include rasterising.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import queue
import re
import statistics
import subprocess
import sys
import time
import urllib.request

import psutil

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


def drain(kc) -> None:
    """Drop what the kernel sent between cells (e.g. the dashboard's updates of resource
    samples), so that a cell's count holds only what was sent while it ran."""
    while True:
        try:
            kc.get_iopub_msg(timeout=0.05)
        except queue.Empty:
            return


def run_cell(kc, code: str, timeout: float = 600) -> tuple[list[dict], float]:
    """Execute `code`; return every iopub message sent from then until the kernel is idle
    again (comm messages of any origin: the collector's thread sends some), and the wall
    time the cell reported."""
    msg_id = kc.execute(code)
    msgs, out = [], ""
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id and msg["msg_type"] != "comm_msg":
            continue
        msgs.append(msg)
        if msg["msg_type"] == "stream":  # the print may arrive in several pieces
            out += msg["content"]["text"]
        if msg["msg_type"] == "error":
            raise RuntimeError("\n".join(msg["content"]["traceback"]))
        if (msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == msg_id):
            found = re.search(r"WALL (\S+)", out)
            return msgs, float(found.group(1)) if found else float("nan")


def comm_bytes(msgs: list[dict], kinds: tuple[str, ...] = ("comm_msg", "comm_open")) -> int:
    """Bytes of the messages of `kinds`: JSON content plus binary buffers."""
    total = 0
    for m in msgs:
        if m["msg_type"] in kinds:
            total += len(json.dumps(m["content"]))
            total += sum(len(memoryview(b)) for b in m.get("buffers", []))
    return total


# What else taskscope sends to the browser in a watched cell: a bar's display message and
# its final static snapshot (the plain kernel's cell sends neither).
DISPLAY_KINDS = ("display_data", "update_display_data")


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
        kernels.append((km, kc, psutil.Process(km.provisioner.process.pid)))
    walls: dict[bool, list[float]] = {False: [], True: []}
    cells: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}  # the kernel process's CPU seconds
    sent, shown, done = [], [], []
    try:
        for rep in range(reps):
            # Alternate which kernel goes first, so that a drift in the machine's load
            # (shared VM) does not always favour the same one.
            order = list(zip((False, True), kernels))
            for watch, (_, kc, proc) in (order if rep % 2 == 0 else order[::-1]):
                drain(kc)
                c0 = sum(proc.cpu_times()[:2])
                t0 = time.perf_counter()
                msgs, wall = run_cell(kc, RUN.format(n=n))
                cells[watch].append(time.perf_counter() - t0)
                cpu[watch].append(sum(proc.cpu_times()[:2]) - c0)
                walls[watch].append(wall)
                if watch:
                    sent.append(comm_bytes(msgs))
                    shown.append(comm_bytes(msgs, DISPLAY_KINDS))
                    done.append(final_done(msgs, n))
    finally:
        for km, kc, _ in kernels:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    med = statistics.median

    def paired(xs: dict[bool, list[float]]) -> tuple[float, float, float]:
        """Median and quartiles of watched/plain - 1 over the repetitions' pairs (each
        pair ran back to back, so a change in the machine's load hits both)."""
        q = statistics.quantiles([w / p - 1 for p, w in zip(xs[False], xs[True])], n=4)
        return q[1], q[0], q[2]

    return {"n": n, "reps": reps, "plain_s": med(walls[False]), "watched_s": med(walls[True]),
            "overhead": paired(walls),
            "plain_cell_s": med(cells[False]), "watched_cell_s": med(cells[True]),
            "cell_overhead": paired(cells),
            # The average rate over all the watched cells: every byte sent while they ran
            # (bars, dashboard, final updates), over the time they ran.
            "traffic_Bps": sum(sent) / sum(cells[True]), "bytes_per_map": med(sent),
            "all_Bps": (sum(sent) + sum(shown)) / sum(cells[True]),
            # CPU ticks are 10 ms: the mean over all repetitions, not a median.
            "cpu_plain_ms": 1000 * statistics.fmean(cpu[False]),
            "cpu_watched_ms": 1000 * statistics.fmean(cpu[True]),
            "final_done": min(done), "walls": walls, "cells": cells}


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
    size.add_argument("--quick", action="store_true", help="200,000 items, 5 repetitions")
    size.add_argument("--full", action="store_true", help="1,000,000 items, 201 repetitions")
    ap.add_argument("--markdown", help="write the table to this file")
    args = ap.parse_args()
    n, reps = (200_000, 5) if args.quick else (1_000_000, 201) if args.full else (1_000_000, 41)
    k = kernel_bench(n, reps)
    f = frame_bench()
    load = os.getloadavg()[0]

    def pct(x: float) -> str:
        return f"{x * 100:+.1f}%"

    table = "\n".join([
        f"Dashboard cost ({n:,}-item map of x*x, Pool(2), median of {reps}; load {load:.1f}):",
        "",
        "| measure | value | aim |",
        "|---|---|---|",
        f"| map without the dashboard (in the cell) | {k['plain_s']:.3f} s | |",
        f"| map with the live dashboard displayed | {k['watched_s']:.3f} s | |",
        f"| wall-time overhead of the map (median of pairs; quartiles) | "
        f"{pct(k['overhead'][0])} ({pct(k['overhead'][1])} .. {pct(k['overhead'][2])}) | ≤ 3% |",
        f"| whole cell, execute to idle, without / with | {k['plain_cell_s']:.3f} s / "
        f"{k['watched_cell_s']:.3f} s | |",
        f"| wall-time overhead of the whole cell | {pct(k['cell_overhead'][0])} "
        f"({pct(k['cell_overhead'][1])} .. {pct(k['cell_overhead'][2])}) | |",
        f"| the kernel's CPU time per cell, without / with (mean) | {k['cpu_plain_ms']:.0f} ms / "
        f"{k['cpu_watched_ms']:.0f} ms ({k['cpu_watched_ms'] - k['cpu_plain_ms']:+.0f} ms) | |",
        f"| comm traffic to the browser during the maps | {k['traffic_Bps'] / 1000:.1f} kB/s "
        f"({k['bytes_per_map'] / 1000:.1f} kB per map) | < 50 KB/s |",
        f"| the same with the bar's display messages (static snapshots) | "
        f"{k['all_Bps'] / 1000:.1f} kB/s | |",
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
