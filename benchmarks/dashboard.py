"""What watching costs: a big map in a real kernel with and without the live dashboard,
the comm traffic it sends to the browser, and the task stream's frame time in Chromium.

    python benchmarks/dashboard.py [--quick|--full] [--markdown FILE]

Four kernels run the same map in turns, rotating which goes first: one plain, one with
``display(pool.dashboard())``, one that also has ``%load_ext taskscope`` (a progress bar
under every map), both seen by a client that announces taskscope's JupyterLab renderer as
JupyterLab and Notebook 7 do (js/src/saved-link.js), and one with the dashboard seen by a
client without it (nbclient, VS Code: display updates at the end of every cell). Both the map's own wall time (timed inside the cell) and the whole
cell's (execute request to idle, as the notebook waits for it, post-cell hooks included)
are compared with the plain kernel's of the same repetition. Every comm message a kernel
sends on iopub while the cell runs is counted (JSON content plus binary buffers), as the
browser would receive it; of what it sent between cells, only the end-of-cell snapshot
(sent once the kernel is idle, kernel_ext/saved_clients.py) is counted, separately. The
final count of each map in the messages must equal its length.
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
# What each kernel shows besides running the map: nothing; the dashboard (without the
# magic: `display(pool.dashboard())` works on its own); the dashboard and a progress bar
# under every map (`%load_ext taskscope`).
CONFIGS = {
    "plain": "",
    "dashboard": "display(pool.dashboard())",
    "dashboard + bars": "%load_ext taskscope\ndisplay(pool.dashboard())",
    "dashboard, no renderer": "display(pool.dashboard())",
}
# The kernels whose client announces taskscope's renderer, as JupyterLab's does.
WITH_RENDERER = ("dashboard", "dashboard + bars")
RUN = """
import time as _t
_t0 = _t.perf_counter()
_r = pool.map(sq, range({n}))
print("WALL", _t.perf_counter() - _t0, len(_r))
"""


def drain(kc, quiet: float = 0.05, at_most: float = 2.0) -> list[dict]:
    """What the kernel sent between cells (e.g. the dashboard's updates of resource
    samples), until it was `quiet` seconds silent (a live dashboard is never silent for
    long: `at_most` seconds): kept out of a cell's count, which holds only what was sent
    while it ran."""
    out, deadline = [], time.monotonic() + at_most
    while time.monotonic() < deadline:
        try:
            out.append(kc.get_iopub_msg(timeout=quiet))
        except queue.Empty:
            break
    return out


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


def announce_renderer(kc, msgs: list[dict]) -> None:
    """Tell the kernel, from this client's session, that it draws taskscope's view type:
    the message taskscope's JupyterLab renderer makes the dashboard's widget send."""
    for m in msgs:
        if m["msg_type"] != "comm_open":
            continue
        state = m["content"]["data"].get("state", {})
        if state.get("_anywidget_id") == "taskscope.widgets.Dashboard" and state.get("call") is None:
            kc.shell_channel.send(kc.session.msg("comm_msg", {
                "comm_id": m["content"]["comm_id"],
                "data": {"method": "custom", "content": {"type": "renderer", "inflate": True}}}))
            return
    raise RuntimeError("no dashboard was opened")


def snapshot_bytes(msgs: list[dict]) -> int:
    """Bytes of the saved-notebook snapshot messages among `msgs`."""
    return comm_bytes([m for m in msgs if m["msg_type"] == "comm_msg"
                       and m["content"]["data"].get("content", {}).get("type") == "snapshot"])


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
    """The largest done count of an n-item call in the state updates and finished-call
    messages seen."""
    best = 0
    for m in msgs:
        if m["msg_type"] != "comm_msg":
            continue
        data = m["content"].get("data", {})
        rows = (data.get("state", {}).get("state") or {}).get("calls", [])
        if data.get("method") == "custom" and data.get("content", {}).get("type") == "calls":
            rows = data["content"]["calls"]
        for call in rows:
            if call.get("total") == n:
                best = max(best, call["counts"]["released"] + call["counts"]["memory"])
    return best


def paired(base: list[float], other: list[float]) -> tuple[float, float, float]:
    """Median and quartiles of other/base - 1 over the repetitions (each repetition ran
    the kernels back to back, so a change in the machine's load hits all of them)."""
    q = statistics.quantiles([o / b - 1 for b, o in zip(base, other, strict=True)], n=4)
    return q[1], q[0], q[2]


def kernel_bench(n: int, reps: int) -> dict[str, dict]:
    kernels = {}
    for name, code in CONFIGS.items():
        km = KernelManager(kernel_name="python3")
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        run_cell(kc, SETUP)
        if code:
            msgs, _ = run_cell(kc, code)
            if name in WITH_RENDERER:
                announce_renderer(kc, msgs)
        kernels[name] = (km, kc, psutil.Process(km.provisioner.process.pid))
    res = {name: {"walls": [], "cells": [], "cpu": [], "sent": [], "shown": [], "after": [],
                  "last": []} for name in CONFIGS}
    try:
        for rep in range(reps):
            # Rotate which kernel goes first, so that a drift in the machine's load (a
            # shared VM) does not always favour the same one.
            names = list(CONFIGS)
            names = names[rep % len(names):] + names[:rep % len(names)]
            for name in names:
                _, kc, proc = kernels[name]
                r = res[name]
                trailing = drain(kc)  # the previous map's trailing updates, for its count
                r["last"] += trailing
                if r["cells"]:  # the previous cell's end-of-cell snapshot, sent once idle
                    r["after"].append(snapshot_bytes(trailing))
                c0 = sum(proc.cpu_times()[:2])
                t0 = time.perf_counter()
                msgs, wall = run_cell(kc, RUN.format(n=n))
                r["cells"].append(time.perf_counter() - t0)
                r["cpu"].append(sum(proc.cpu_times()[:2]) - c0)
                r["walls"].append(wall)
                r["sent"].append(comm_bytes(msgs))
                r["shown"].append(comm_bytes(msgs, DISPLAY_KINDS))
                r["last"] = msgs
        for name in CONFIGS:
            trailing = drain(kernels[name][1], quiet=1.0)
            res[name]["last"] += trailing
            res[name]["after"].append(snapshot_bytes(trailing))
    finally:
        for km, kc, _ in kernels.values():
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    med = statistics.median
    base = res["plain"]
    out = {}
    for name, r in res.items():
        out[name] = {
            "wall_s": med(r["walls"]), "cell_s": med(r["cells"]),
            "overhead": paired(base["walls"], r["walls"]),
            "cell_overhead": paired(base["cells"], r["cells"]),
            # What the cell costs beyond its map (hooks, end-of-cell snapshots, reply): the
            # map's own swings (±10% here) are left out of it.
            "tail_ms": 1000 * med([c - w for c, w in zip(r["cells"], r["walls"], strict=True)]),
            # CPU ticks are 10 ms: the mean over all repetitions, not a median.
            "cpu_ms": 1000 * statistics.fmean(r["cpu"]),
            # The average rate over all the cells: every byte sent while they ran, over
            # the time they ran.
            "traffic_Bps": sum(r["sent"]) / sum(r["cells"]), "bytes_per_map": med(r["sent"]),
            "all_Bps": (sum(r["sent"]) + sum(r["shown"])) / sum(r["cells"]),
            # With the snapshot each cell's end sent after idle (a renderer client's).
            "after_per_map": med(r["after"]),
            "with_after_Bps": (sum(r["sent"]) + sum(r["after"])) / sum(r["cells"]),
            "final_done": final_done(r["last"], n),
        }
    return out


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
    ap.add_argument("--reps", type=int, help="repetitions (instead of the size's own)")
    ap.add_argument("--markdown", help="write the table to this file")
    args = ap.parse_args()
    n, reps = (200_000, 5) if args.quick else (1_000_000, 201) if args.full else (1_000_000, 41)
    reps = args.reps or reps
    k = kernel_bench(n, reps)
    f = frame_bench()
    load = os.getloadavg()[0]

    def pct(x: float) -> str:
        return f"{x * 100:+.1f}%"

    rows = [
        ("map's wall time (timed in the cell), median", lambda k: f"{k['wall_s']:.3f} s"),
        ("overhead of the map (median of pairs; quartiles)",
         lambda k: f"{pct(k['overhead'][0])} ({pct(k['overhead'][1])} .. {pct(k['overhead'][2])})"),
        ("whole cell, execute to idle, median", lambda k: f"{k['cell_s']:.3f} s"),
        ("overhead of the whole cell (median of pairs; quartiles)",
         lambda k: f"{pct(k['cell_overhead'][0])} ({pct(k['cell_overhead'][1])} .. "
                   f"{pct(k['cell_overhead'][2])})"),
        ("the cell beyond its map (execute to idle minus the map), median",
         lambda k: f"{k['tail_ms']:.1f} ms"),
        ("the kernel's CPU time per cell (mean)", lambda k: f"{k['cpu_ms']:.0f} ms"),
        ("comm traffic to the browser while the cell runs",
         lambda k: f"{k['traffic_Bps'] / 1000:.1f} kB/s ({k['bytes_per_map'] / 1000:.1f} kB/map)"),
        ("end-of-cell snapshot sent after idle (median per map)",
         lambda k: f"{k['after_per_map'] / 1000:.1f} kB"),
        ("comm traffic including it", lambda k: f"{k['with_after_Bps'] / 1000:.1f} kB/s"),
        ("the same with display messages (bars' and nbclient's snapshots) instead",
         lambda k: f"{k['all_Bps'] / 1000:.1f} kB/s"),
        ("final done count in the browser's messages", lambda k: f"{k['final_done']:,} / {n:,}"),
    ]
    names = list(CONFIGS)
    table = "\n".join([
        f"Dashboard cost ({n:,}-item map of x*x, Pool(2), {reps} repetitions; load {load:.1f}):",
        "",
        "| measure | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
        *[f"| {label} | " + " | ".join("—" if name == "plain" and i in (1, 3, 6, 7, 8, 9, 10) else f(k[name])
                                       for name in names) + " |"
          for i, (label, f) in enumerate(rows)],
        "",
        "Aims: overhead ≤ 3%, traffic < 50 KB/s, exact final counts, frame < 16 ms.",
        "",
        "| task-stream frame in Chromium | value |",
        "|---|---|",
        f"| {f['kept']:,} kept, live window | {f['live_ms']:.1f} ms |",
        f"| all {f['kept']:,} in view ({f['all_rects']} drawn) | {f['all_ms']:.1f} ms |",
    ])
    print(table)
    if args.markdown:
        pathlib.Path(args.markdown).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
