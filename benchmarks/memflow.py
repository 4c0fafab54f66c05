"""What memory by function and transfers cost the driver: the graph workload (a submit-based
tree reduction) with the bookkeeping of pool/memflow.py on, and with it made a no-op, in
turns on one pool, plus the saturation binning of a full task-stream ring.

    python benchmarks/memflow.py [--quick] [--markdown FILE]

Both sides run in one process on one pool, alternating which goes first, so the machine's
noise hits both alike; the ratio of medians is what counts. "off" replaces the MemFlow
methods the task graph calls with ones that do nothing (no held rows, no transfer records),
which is what the driver did before issue 14.
"""
from __future__ import annotations

import argparse
import array
import pathlib
import random
import statistics
import sys
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from run import tree_reduce

from taskscope import Pool
from taskscope._snapshot_memflow import bin_saturation
from taskscope.pool.memflow import MemFlow

HOOKS = ("hold", "unhold", "forget", "fetch_sent", "fetch_done", "fetch_dropped")


class NoMemFlow(MemFlow):
    """The bookkeeping switched off: what the driver did before it existed."""

    def hold(self, wid: int, task: Any) -> None: ...
    def unhold(self, wid: int, task: Any) -> None: ...
    def forget(self, wid: int) -> None: ...
    def fetch_sent(self, task_id: int, holder: int) -> None: ...
    def fetch_done(self, task_id: int, nbytes: int, receivers: Any) -> list[list[float]]:
        return []
    def fetch_dropped(self, task_id: int) -> None: ...


def graph_rounds(leaves: int, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"on": [], "off": []}
    with Pool(2, name="memflow-bench") as pool:
        assert tree_reduce(pool.submit, 200).result() == sum(range(1, 201))  # warm up
        driver = pool._driver
        for r in range(rounds):
            for side in (("on", "off") if r % 2 == 0 else ("off", "on")):
                # Swapped between runs only, when the graph is empty: nothing is held.
                driver.memflow = MemFlow() if side == "on" else NoMemFlow()
                t = time.perf_counter()
                assert tree_reduce(pool.submit, leaves).result() == sum(range(1, leaves + 1))
                times[side].append(time.perf_counter() - t)
        driver.memflow = MemFlow()
    return times


def binning(records: int, workers: int) -> float:
    """Seconds to bin a full ring into the pane's 120 bins (the Python port; the JS is the
    same loop over a Float64Array)."""
    rng = random.Random(1)
    flat = array.array("d")
    t = [0.0] * workers
    for i in range(records):
        w = i % workers
        d = rng.expovariate(1 / 0.004)
        flat.extend((t[w], t[w] + d, float(w), 0.0, 1.0, 0.0))
        t[w] += d
    ws = [{"id": w, "status": "idle"} for w in range(workers)]
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        bin_saturation(flat, ws, 0.0, max(t), 120)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 leaves, 5 rounds per side")
    ap.add_argument("--markdown", type=pathlib.Path)
    a = ap.parse_args()
    leaves, rounds = (2_000, 5) if a.quick else (10_000, 7)
    times = graph_rounds(leaves, rounds)
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    n = 2 * leaves - 1
    lines = [f"### Memory by function and transfers: the driver's cost ({leaves:,}-leaf tree, "
             f"{n:,} submitted tasks, {rounds} rounds per side, alternating)", "",
             "| bookkeeping | tree median s | tasks/s | spread (min-max s) |", "|---|---|---|---|"]
    for side, med in (("off (before)", off), ("on", on)):
        ts = times[side.split()[0]]
        lines.append(f"| {side} | {med:.3f} | {n / med:,.0f} | {min(ts):.3f}-{max(ts):.3f} |")
    lines += ["", f"on / off = **{on / off:.3f}** (the ratio of medians).", ""]
    sec = binning(100_000, 8)
    lines.append(f"Saturation binning of a full ring (100,000 records, 8 workers, 120 bins, "
                 f"Python): {sec * 1000:.0f} ms.")
    text = "\n".join(lines)
    print(text)
    if a.markdown:
        a.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
