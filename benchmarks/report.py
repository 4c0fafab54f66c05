"""Offline reports: size, write time and open time, and Dask's performance_report beside it.

    python benchmarks/report.py [--quick] [--markdown FILE]

1. taskscope at 100,000 tasks: a `Pool(2).map` with ``chunksize=1`` (one task-stream record
   per item, the worst case), then `pool.report()`: the file's size, the time to write it,
   and the time Debian's Chromium takes to open it from file:// with every network request
   refused (navigation start to the dashboard drawn, read in the page), median of 5 opens.
2. Side by side at a size Dask can do in seconds (2,000 tasks; 1,000 with --quick): the same
   work through `dask.distributed` (LocalCluster, 2 worker processes, one thread each) inside
   `performance_report(filename=...)`, and through taskscope inside `taskscope.report(...)`:
   size, time to write (the block's exit), what the opened file asks the network for.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])

from workloads import square  # noqa: E402

CHROMIUM = os.environ.get("TASKSCOPE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def open_offline(browser: Any, path: pathlib.Path, reps: int) -> dict[str, Any]:
    """Open `path` `reps` times, refusing every request but the file; the median time to
    drawn (taskscope's page says when; for others: the load event) and what was refused."""
    url = path.resolve().as_uri()
    times, refused = [], set()
    for _ in range(reps):
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.route("**/*", lambda r: r.continue_() if r.request.url == url
                   else (refused.add(r.request.url), r.abort()))
        page.goto(url, wait_until="load")
        try:
            page.wait_for_selector("body[data-ready-ms]", timeout=20_000)
            times.append(float(page.evaluate("document.body.dataset.readyMs")))
        except Exception:  # not a taskscope page: time to the load event
            times.append(float(page.evaluate(
                "performance.getEntriesByType('navigation')[0].loadEventEnd")))
        page.close()
    return {"open_ms": statistics.median(times), "refused": sorted(refused)}


def taskscope_at_scale(n: int, tmp: pathlib.Path) -> dict[str, Any]:
    from taskscope import Pool

    with Pool(2) as pool:
        t0 = time.perf_counter()
        pool.map(square, range(n), chunksize=1)
        ran = time.perf_counter() - t0
        t0 = time.perf_counter()
        path = pool.report(tmp / "taskscope-100k.html")
        wrote = time.perf_counter() - t0
        records = len(pool.task_stream())
    return {"path": path, "records": records, "bytes": path.stat().st_size, "write_s": wrote,
            "ran_s": ran}


def side_by_side(n: int, tmp: pathlib.Path) -> dict[str, dict[str, Any]]:
    import taskscope
    from dask.distributed import Client, LocalCluster, performance_report
    from taskscope import Pool

    out: dict[str, dict[str, Any]] = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster, \
            Client(cluster) as client:
        client.gather(client.map(square, range(10), pure=False))  # warm up
        path = tmp / "dask-report.html"
        t0 = time.perf_counter()
        with performance_report(filename=str(path)):
            client.gather(client.map(square, range(n), pure=False))
            t1 = time.perf_counter()
        out["dask"] = {"path": path, "bytes": path.stat().st_size, "write_s": time.perf_counter() - t1,
                       "work_s": t1 - t0}
    with Pool(2) as pool:
        pool.map(square, range(10))  # warm up
        path = tmp / "taskscope-block.html"
        t0 = time.perf_counter()
        with taskscope.report(path):
            pool.map(square, range(n), chunksize=1)
            t1 = time.perf_counter()
        out["taskscope"] = {"path": path, "bytes": path.stat().st_size,
                            "write_s": time.perf_counter() - t1, "work_s": t1 - t0}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--markdown", type=pathlib.Path)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    lines = []
    with tempfile.TemporaryDirectory() as d, sync_playwright() as pw:
        tmp = pathlib.Path(d)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        big = taskscope_at_scale(100_000, tmp)
        seen = open_offline(browser, big["path"], 5)
        lines += ["| report of 100,000 tasks (chunksize=1) | value |", "|---|---|",
                  f"| task-stream records kept | {big['records']:,} |",
                  f"| file size | {big['bytes'] / 1e6:.2f} MB |",
                  f"| write (`pool.report()`) | {big['write_s'] * 1000:.0f} ms |",
                  f"| open from file:// to drawn, median of 5 | {seen['open_ms']:.0f} ms |",
                  f"| requests refused (made besides the file) | {len(seen['refused'])} |"]
        m = 1000 if args.quick else 2000
        both = side_by_side(m, tmp)
        lines += ["", f"| {m:,} tasks, 2 workers | file size | write at the block's end | "
                  "requests when opened offline | opens offline |", "|---|---|---|---|---|"]
        for name in ("taskscope", "dask"):
            r = both[name]
            o = open_offline(browser, r["path"], 3)
            lines.append(f"| {name} (`{'taskscope.report' if name == 'taskscope' else 'performance_report'}`) "
                         f"| {r['bytes'] / 1e6:.2f} MB | {r['write_s'] * 1000:.0f} ms "
                         f"| {len(o['refused'])} refused{': ' + ', '.join(sorted({u.split('/')[2] for u in o['refused'] if '//' in u})) if o['refused'] else ''} "
                         f"| {'yes' if not o['refused'] else 'no'} |")
        ratio = both["dask"]["bytes"] / both["taskscope"]["bytes"]
        lines.append(f"\nsize ratio dask / taskscope: {ratio:.1f}x")
        browser.close()
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
