"""The engine's per-task cost and data rate, side by side with multiprocessing, in one run.

    python benchmarks/throughput.py [--quick] [--reps N] [--only NAME[,NAME...]] [--markdown FILE]

Workloads (issue 13), each timed for taskscope and multiprocessing.Pool in turns, order
rotated per repetition, median of the repetitions (3 by default):

    submit   N trivial tasks: pool.submit(inc, i) ... then every result, against
             multiprocessing.Pool.apply_async(inc, (i,)) ... .get()
    map1     pool.map(square, xs, chunksize=1) against multiprocessing's map(chunksize=1)
    tree     the 10,000-leaf pairwise tree of submitted tasks (19,999 tasks), against the
             apply_async rate of the same repetition (dependencies cannot be chunked)
    sleep64  64 workers, 20,000 sleeps of 1 ms with adaptive chunks, against the ideal
             (N * 1 ms / 64) and multiprocessing.Pool(64).map with its default chunks
    numpy    200 distinct 4 MB float64 arrays -> arr.sum(), against one single-core memcpy
             of the same arrays measured in the same repetition, and multiprocessing;
             also a new pool's first map, whose shared-memory segments are all made anew

taskscope runs with the dashboard's event subscriber attached (the kernel-side collector,
applying every event to the State on its own thread), as in a notebook with a dashboard.
`--quick` uses bounded sizes (seconds per workload) for CI-time runs: its ratios are
noisier, and the sleep64 workload keeps its issue size (it is 0.3 s).
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run  # noqa: E402  (also puts this folder on PYTHONPATH for the workers)
import workloads  # noqa: E402

SIZES = {
    "default": {"submit": 20_000, "map1": 20_000, "tree": 10_000, "sleep64": 20_000,
                "numpy": 200},
    "quick": {"submit": 5_000, "map1": 5_000, "tree": 2_000, "sleep64": 20_000, "numpy": 50},
}
SLEEP_WORKERS = 64
SLEEP_S = 0.001
ARRAY_BYTES = 4 * 1024 * 1024
TIMEOUT_S = 120.0


@dataclass
class Side:
    """One side's samples for one workload: wall seconds and caller-process CPU seconds."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    error: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.wall) if self.wall else float("nan")

    @property
    def spread(self) -> str:
        return f"{min(self.wall):.3f}-{max(self.wall):.3f}" if self.wall else "n/a"


def timed(side: Side, fn: Callable[[], Any], check: Callable[[Any], None]) -> None:
    if side.error:
        return
    gc.collect()
    try:
        with run.time_limit(TIMEOUT_S):
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn()
            side.wall.append(time.perf_counter() - t0)
            side.cpu.append(time.process_time() - c0)
        check(out)
    except Exception as exc:
        side.error = f"{type(exc).__name__}: {exc}"[:200]
        run.say(f"    failed: {side.error}")


def equal(expected: Any) -> Callable[[Any], None]:
    def check(got: Any) -> None:
        if got != expected:
            raise AssertionError(f"wrong result: {str(got)[:80]} != {str(expected)[:80]}")
    return check


class Taskscope:
    """A taskscope Pool with the dashboard's collector (State on its own thread) attached."""

    def __init__(self, n: int) -> None:
        from taskscope.collector import collector_for
        from taskscope.pool import Pool

        self.pool = Pool(n, name=f"bench-{n}")
        self.collector = collector_for(self.pool)

    def warm(self, fn: Callable[..., Any], items: list[Any], timeout: float = 120.0) -> None:
        """A map of `fn`, then wait until every worker is up: a pool of 64 workers is still
        starting some after a short warm-up map (multiprocessing's are forked before its
        constructor returns), and their start-up must not fall into the timed region."""
        self.pool.map(fn, items)
        workers = self.pool._driver.workers
        deadline = time.monotonic() + timeout
        while sum(w.ready for w in list(workers.values())) < self.pool.n_workers:
            if time.monotonic() > deadline:
                raise TimeoutError("taskscope: workers still starting after the warm-up")
            time.sleep(0.02)

    def settled(self) -> str:
        """Whether the State counted every item the driver finished (events trail results)."""
        done = sum(c.done for c in list(self.pool._driver.calls.values()))
        ok = self.collector.wait_for(lambda s: s.totals["done"] >= done, 10.0)
        seen = self.collector.state.totals["done"]
        return f"{seen:,} of {done:,} items done" + ("" if ok else " (MISSING EVENTS)")

    def close(self) -> None:
        self.pool.shutdown()
        self.collector.stop()


def submit_all(submit: Callable[..., Any], n: int) -> int:
    futures = [submit(workloads.inc, i) for i in range(n)]
    return sum(f.result() for f in futures)


def apply_all(pool: Any, n: int) -> int:
    results = [pool.apply_async(workloads.inc, (i,)) for i in range(n)]
    return sum(r.get() for r in results)


def run_all(sizes: dict[str, int], names: set[str], reps: int, workers: int) -> list[str]:
    out: list[str] = []
    verdicts: list[str] = []
    if names & {"submit", "map1", "tree"}:
        ts, mp = Taskscope(workers), multiprocessing.Pool(workers)
        try:
            ts.warm(workloads.square, list(range(100)))
            submit_all(ts.pool.submit, 200)
            mp.map(workloads.square, range(100))
            res = {k: (Side(), Side()) for k in ("submit", "map1", "tree")}
            n_s, n_m, leaves = sizes["submit"], sizes["map1"], sizes["tree"]
            for rep in range(reps):
                run.say(f"  rep {rep + 1}/{reps}")
                order = [0, 1] if rep % 2 == 0 else [1, 0]
                if "submit" in names or "tree" in names:
                    for i in order:
                        if i == 0:
                            timed(res["submit"][0], lambda: submit_all(ts.pool.submit, n_s),
                                  equal(sum(range(1, n_s + 1))))
                        else:
                            timed(res["submit"][1], lambda: apply_all(mp, n_s),
                                  equal(sum(range(1, n_s + 1))))
                if "map1" in names:
                    xs = list(range(n_m))
                    want = [x * x for x in xs]
                    for i in order:
                        if i == 0:
                            timed(res["map1"][0], lambda: ts.pool.map(workloads.square, xs,
                                                                      chunksize=1), equal(want))
                        else:
                            timed(res["map1"][1], lambda: mp.map(workloads.square, xs,
                                                                 chunksize=1), equal(want))
                if "tree" in names:
                    timed(res["tree"][0],
                          lambda: run.tree_reduce(ts.pool.submit, leaves).result(),
                          equal(sum(range(1, leaves + 1))))
            totals = ts.settled()
        finally:
            ts.close()
            mp.close()
            mp.join()
        rate = {k: (n / res[k][0].median, n / res[k][1].median if res[k][1].wall else None)
                for k, n in (("submit", n_s), ("map1", n_m), ("tree", 2 * leaves - 1))}
        out += ["## per-task cost (trivial tasks, 2 workers)", "",
                "| workload | tasks | taskscope tasks/s | caller CPU µs/task | "
                "multiprocessing tasks/s | ratio | target |", "|---|---|---|---|---|---|---|"]
        targets = {"submit": ("submit vs apply_async", 1.5), "map1": ("map(chunksize=1)", 1.0),
                   "tree": ("tree vs apply_async", 0.5)}
        for k, n in (("submit", n_s), ("map1", n_m), ("tree", 2 * leaves - 1)):
            if k not in names:
                continue
            t_rate, m_rate = rate[k]
            if k == "tree":
                m_rate = rate["submit"][1]
            cpu_us = statistics.median(res[k][0].cpu) / n * 1e6 if res[k][0].cpu else float("nan")
            ratio = t_rate / m_rate if m_rate else float("nan")
            label, goal = targets[k]
            ok = "met" if ratio >= goal else "MISSED"
            out.append(f"| {label} | {n:,} | {run.fmt_rate(t_rate)} | {cpu_us:.0f} | "
                       f"{run.fmt_rate(m_rate)} | {ratio:.2f}x | >= {goal}x: {ok} |")
            verdicts.append(f"{label}: {ratio:.2f}x (target >= {goal}x: {ok})")
        out += ["", f"- the attached collector's State counted {totals}", ""]
    if "sleep64" in names:
        n = sizes["sleep64"]
        ideal = n * SLEEP_S / SLEEP_WORKERS
        ts, mp = Taskscope(SLEEP_WORKERS), multiprocessing.Pool(SLEEP_WORKERS)
        t_side, m_side = Side(), Side()
        try:
            xs = [SLEEP_S] * n
            ts.warm(workloads.sleep, [SLEEP_S] * 256)
            mp.map(workloads.sleep, [SLEEP_S] * 256)
            for rep in range(reps):
                run.say(f"  sleep64 rep {rep + 1}/{reps}")
                for i in ([0, 1] if rep % 2 == 0 else [1, 0]):
                    if i == 0:
                        timed(t_side, lambda: len(ts.pool.map(workloads.sleep, xs)), equal(n))
                    else:
                        timed(m_side, lambda: len(mp.map(workloads.sleep, xs)), equal(n))
        finally:
            ts.close()
            mp.close()
            mp.join()
        r = t_side.median / ideal
        ok = "met" if r <= 1.25 else "MISSED"
        out += [f"## {SLEEP_WORKERS} workers x {n:,} sleeps of {SLEEP_S * 1e3:g} ms", "",
                "| side | median s | vs ideal | spread s |", "|---|---|---|---|",
                f"| ideal (N x 1 ms / {SLEEP_WORKERS}) | {ideal:.3f} | 1.00x | |",
                f"| **taskscope** (adaptive chunks) | {t_side.median:.3f} | {r:.2f}x | "
                f"{t_side.spread} |",
                f"| multiprocessing (default chunks) | {m_side.median:.3f} | "
                f"{m_side.median / ideal:.2f}x | {m_side.spread} |", ""]
        verdicts.append(f"64 x 1 ms sleeps: {r:.2f}x ideal (target <= 1.25x: {ok})")
    if "numpy" in names:
        import numpy as np

        n = sizes["numpy"]
        per = ARRAY_BYTES // 8
        ts, mp = Taskscope(workers), multiprocessing.Pool(workers)
        sides = {"taskscope": Side(), "fresh": Side(), "multiprocessing": Side(),
                 "memcpy": Side()}
        try:
            warm = [np.ones(per) for _ in range(4)]
            ts.warm(workloads.array_sum, warm)
            mp.map(workloads.array_sum, warm)
            dst = np.empty(per)
            for rep in range(reps):
                run.say(f"  numpy rep {rep + 1}/{reps}")
                arrays = [np.full(per, float(i + 1)) for i in range(n)]
                want = [float(i + 1) * per for i in range(n)]
                order = ["taskscope", "fresh", "multiprocessing", "memcpy"]
                order = order[rep % 4:] + order[:rep % 4]
                for name in order:
                    if name == "taskscope":
                        timed(sides[name], lambda: ts.pool.map(workloads.array_sum, arrays),
                              equal(want))
                    elif name == "fresh":  # no segment made yet: each one is made anew
                        fresh = Taskscope(workers)
                        try:
                            fresh.warm(workloads.array_sum, [np.ones(8) for _ in range(4)])
                            timed(sides[name],
                                  lambda: fresh.pool.map(workloads.array_sum, arrays),
                                  equal(want))
                        finally:
                            fresh.close()
                    elif name == "multiprocessing":
                        timed(sides[name], lambda: mp.map(workloads.array_sum, arrays),
                              equal(want))
                    else:  # one core copying the same bytes once (np.copyto is a memcpy)
                        timed(sides[name], lambda: [np.copyto(dst, a) for a in arrays] and n,
                              equal(n))
                del arrays
        finally:
            ts.close()
            mp.close()
            mp.join()
        total = n * ARRAY_BYTES
        gbps = {k: total / s.median / 1e9 for k, s in sides.items()}
        r = gbps["taskscope"] / gbps["memcpy"]
        ok = "met" if r >= 0.25 else "MISSED"
        out += [f"## {n} arrays of {ARRAY_BYTES // 2**20} MB -> arr.sum() ({workers} workers)", "",
                "| side | median s | GB/s | vs memcpy | spread s |", "|---|---|---|---|---|"]
        for k in ("memcpy", "taskscope", "fresh", "multiprocessing"):
            name = {"memcpy": "one memcpy on one core", "taskscope": "**taskscope**",
                    "fresh": "taskscope, a new pool's first map (segments made anew)"}.get(k, k)
            out.append(f"| {name} | {sides[k].median:.3f} | {gbps[k]:.2f} | "
                       f"{gbps[k] / gbps['memcpy']:.2f}x | {sides[k].spread} |")
        out.append("")
        verdicts.append(f"4 MB arrays: {r:.2f}x a single-core memcpy (target >= 0.25x: {ok})")
    out += ["## Targets (issue 13)", ""] + [f"- {v}" for v in verdicts] + [""]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="bounded sizes (CI-time)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--only", default="submit,map1,tree,sleep64,numpy")
    ap.add_argument("--markdown", metavar="FILE")
    args = ap.parse_args(argv)
    names = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = names - set(SIZES["default"])
    if unknown:
        ap.error(f"--only: unknown workload(s) {sorted(unknown)}; choose from "
                 f"{sorted(SIZES['default'])}")
    workers = args.workers or run.usable_cpus()
    load_before = run.loadavg()
    t0 = time.perf_counter()
    body = run_all(SIZES["quick" if args.quick else "default"], names, args.reps, workers)
    header = run.machine_lines(workers, "quick" if args.quick else "default", args.reps,
                               load_before)
    header.append(f"- Whole run: {time.perf_counter() - t0:.0f} s")
    text = "\n".join(["# taskscope throughput (issue 13)", "", *header, "", *body])
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
