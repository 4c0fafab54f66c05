"""What the statistical profiler costs: the same map with ``Pool(profile=True)`` and without.

    python benchmarks/profiler.py [--quick] [--reps N] [--markdown FILE]

The workload is run.py's second: 2,000 tasks of ~5 ms of pure-Python CPU each (`spin`,
calibrated here), on one pool per setting (two workers, warmed up), the two pools' maps
alternating (off, on, on, off, ...) so that a neighbour's load falls on both alike. Each
repetition's ratio is on/off of that pair; the median ratio is the cost. The profile of the
last run must name `spin` with most samples (the benchmark fails otherwise: a profiler that
sampled nothing would cost nothing).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))

import psutil  # noqa: E402
import workloads  # noqa: E402  (after the path is set: workers import it by name)

from taskscope import Pool  # noqa: E402


def worker_cpu(pool: Pool) -> float:
    """CPU seconds (user + system) the pool's worker processes have used so far: the
    profiler's cost shows here too, and a neighbour's load hardly does."""
    total = 0.0
    for w in list(pool._driver.workers.values()):
        try:
            t = psutil.Process(w.pid).cpu_times()
            total += t.user + t.system
        except (psutil.Error, TypeError):
            pass
    return total


def sampler_share(_: int) -> tuple[int, float, float]:
    """In a worker: (pid, CPU seconds of its sampler thread, of the whole process) so far.
    Read from Linux's per-thread CPU clock, so a neighbour's load does not blur it."""
    import threading

    sampler = next(t for t in threading.enumerate() if t.name == "taskscope-profiler")
    clock = time.pthread_getcpuclockid(sampler.ident)
    time.sleep(0.05)  # let the other worker take the next item
    return os.getpid(), time.clock_gettime(clock), time.process_time()


def hottest(tree: dict) -> tuple[str, int]:
    """The deepest node on the heaviest path: where the samples end up."""
    while tree["children"]:
        tree = tree["children"][0]
    return tree["name"], tree["count"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="500 tasks, 5 pairs")
    ap.add_argument("--reps", type=int, default=None, help="pairs of runs (default 7; --quick 5)")
    ap.add_argument("--tasks", type=int, default=None, help="tasks per map (default 2,000)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--markdown", type=pathlib.Path, default=None)
    args = ap.parse_args()
    n_tasks = args.tasks or (500 if args.quick else 2000)
    reps = args.reps or (5 if args.quick else 7)
    n_iters, per_call = workloads.calibrate_spin(0.005)
    print(f"spin({n_iters:,}) takes {per_call * 1e3:.2f} ms; {n_tasks:,} tasks, {reps} pairs, "
          f"{args.workers} workers", file=sys.stderr)
    items = [n_iters] * n_tasks
    times: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    ratios, cpu_ratios = [], []
    with Pool(args.workers, name="profile-off") as off, \
            Pool(args.workers, name="profile-on", profile=True) as on:
        pools = {False: off, True: on}
        for pool in (off, on):
            pool.map(workloads.spin, items[: 4 * args.workers])  # start-up and imports
        for rep in range(reps):
            order = (False, True) if rep % 2 == 0 else (True, False)
            took, cpu = {}, {}
            for setting in order:
                c0 = worker_cpu(pools[setting])
                t0 = time.perf_counter()
                out = pools[setting].map(workloads.spin, items)
                took[setting] = time.perf_counter() - t0
                cpu[setting] = worker_cpu(pools[setting]) - c0
                assert len(out) == n_tasks
                times[setting].append(took[setting])
                cpus[setting].append(cpu[setting])
            ratios.append(took[True] / took[False])
            cpu_ratios.append(cpu[True] / cpu[False])
            print(f"  pair {rep + 1}: off {took[False]:.3f} s, on {took[True]:.3f} s, "
                  f"ratio {ratios[-1]:.4f}; worker CPU off {cpu[False]:.3f} s, on "
                  f"{cpu[True]:.3f} s, ratio {cpu_ratios[-1]:.4f}", file=sys.stderr)
        tree = on.profile()
        last = on.profile(workloads.spin)
        shares = {pid: (s, p) for pid, s, p in on.map(sampler_share, range(8), chunksize=1)}
    name, count = hottest(last)
    if name != "spin":
        raise SystemExit(f"the profile's hottest frame is {name!r}, not 'spin': {tree}")
    expected = n_tasks * reps * per_call / 0.01  # samples of the timed maps (warm-up aside)
    rows = [
        "| profile | median wall (s) | min | max | median worker CPU (s) |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(f"| {'on' if s else 'off'} | {statistics.median(times[s]):.3f} | "
          f"{min(times[s]):.3f} | {max(times[s]):.3f} | {statistics.median(cpus[s]):.3f} |"
          for s in (False, True)),
        "",
        f"Median of {reps} on/off ratios (alternating pairs): **{statistics.median(ratios):.4f}** "
        f"(min {min(ratios):.4f}, max {max(ratios):.4f}); "
        f"the cost is {100 * (statistics.median(ratios) - 1):+.2f} %. Worker CPU seconds, "
        f"median on/off ratio: **{statistics.median(cpu_ratios):.4f}** "
        f"(min {min(cpu_ratios):.4f}, max {max(cpu_ratios):.4f}).",
        f"The sampler threads' own CPU time: {sum(s for s, _ in shares.values()):.3f} s of "
        f"{sum(p for _, p in shares.values()):.1f} s of the workers' CPU "
        f"({100 * sum(s for s, _ in shares.values()) / sum(p for _, p in shares.values()):.2f} %; "
        f"per-thread CPU clocks, {len(shares)} workers).",
        f"Samples in the `spin` profile: {count:,} (about {expected:,.0f} expected at 100 a "
        f"second of task time); {n_tasks:,} tasks of {per_call * 1e3:.2f} ms, "
        f"{args.workers} workers.",
    ]
    text = "\n".join(rows)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
