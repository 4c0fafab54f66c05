"""`Pool(cluster=...)` against Dask's own client API, on the same cluster, in one run.

    .venv/bin/python benchmarks/dask_pool.py --quick     # ~1-2 minutes on 2 cores
    .venv/bin/python benchmarks/dask_pool.py             # larger inputs, 5 repetitions

One LocalCluster (2 worker processes x 1 thread, loopback only) and one Client serve both
sides; repetitions interleave the sides, and medians and ratios (taskscope / raw dask, by
throughput: > 1 is faster) are what count. Workloads (functions in workloads.py):

1. tiny: N tasks ``x * x``; raw: ``client.gather(client.map(square, items, pure=False))``
   (one Dask task per item: ``batch_size`` does not chunk execution); taskscope:
   ``pool.map(square, items)`` (adaptive chunks, each one Dask task).
2. cpu: M tasks of ~5 ms of pure-Python CPU each (``spin``), the same two calls.
3. graph: a tree reduction of L leaves by ``submit`` (L - 1 adds), every task submitted
   from the caller on both sides; raw: ``client.submit(add, a, b, pure=False)``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ["PYTHONPATH"] = HERE + (os.pathsep + os.environ["PYTHONPATH"]
                                   if os.environ.get("PYTHONPATH") else "")

import workloads  # noqa: E402

PROFILES = {  # tiny tasks, cpu tasks, graph leaves, repetitions
    "quick": {"tiny": 5_000, "cpu": 400, "leaves": 500, "reps": 3},
    "default": {"tiny": 10_000, "cpu": 1_000, "leaves": 1_000, "reps": 5},
}


def tree(submit: Any, leaves: int) -> Any:
    level = [submit(workloads.inc, i) for i in range(leaves)]
    while len(level) > 1:
        nxt = [submit(workloads.add, level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--markdown", help="also write the tables to this file")
    args = parser.parse_args()
    prof = PROFILES["quick" if args.quick else "default"]
    warnings.simplefilter("ignore")  # dask's "large graph" chatter
    from distributed import Client, LocalCluster

    from taskscope import Pool

    n_iters, spin_s = workloads.calibrate_spin(0.005)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0")
    client = Client(cluster, set_as_default=False)
    pool = Pool(cluster=client, name="bench")
    tiny = list(range(prof["tiny"]))
    cpu = [n_iters] * prof["cpu"]
    sides = {
        ("tiny", "dask"): lambda: client.gather(client.map(workloads.square, tiny, pure=False)),
        ("tiny", "taskscope"): lambda: pool.map(workloads.square, tiny),
        ("cpu", "dask"): lambda: client.gather(client.map(workloads.spin, cpu, pure=False)),
        ("cpu", "taskscope"): lambda: pool.map(workloads.spin, cpu),
        ("graph", "dask"): lambda: tree(lambda f, *a: client.submit(f, *a, pure=False),
                                        prof["leaves"]),
        ("graph", "taskscope"): lambda: tree(pool.submit, prof["leaves"]),
    }
    expected = {"tiny": [x * x for x in tiny], "graph": sum(range(1, prof["leaves"] + 1))}
    for fn in sides.values():  # warm-up: imports and function caches on the workers
        fn()
    times: dict[tuple[str, str], list[float]] = {k: [] for k in sides}
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    for rep in range(prof["reps"]):
        for key, fn in sides.items():
            t0 = time.perf_counter()
            out = fn()
            times[key].append(time.perf_counter() - t0)
            if key[0] in expected and out != expected[key[0]]:
                raise SystemExit(f"wrong result from {key}")
            print(f"rep {rep + 1}: {key[0]:<5} {key[1]:<9} {times[key][-1]:.3f} s",
                  file=sys.stderr)
    pool.shutdown()
    client.close()
    cluster.close()
    import distributed

    sizes = {"tiny": prof["tiny"], "cpu": prof["cpu"], "graph": 2 * prof["leaves"] - 1}
    lines = [f"- distributed {distributed.__version__}; LocalCluster 2 workers x 1 thread "
             f"(processes, loopback); median of {prof['reps']} interleaved repetitions; "
             f"load before {load_before}, after "
             f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; spin = {spin_s * 1e3:.2f} ms",
             "", "| workload | tasks | raw dask median s | Pool(cluster=) median s | "
             "tasks/s raw | tasks/s Pool | Pool vs raw | spread Pool (min-max s) |",
             "|---|---|---|---|---|---|---|---|"]
    for work in ("tiny", "cpu", "graph"):
        raw = statistics.median(times[(work, "dask")])
        ours = statistics.median(times[(work, "taskscope")])
        n = sizes[work]
        spread = times[(work, "taskscope")]
        lines.append(f"| {work} | {n:,} | {raw:.3f} | {ours:.3f} | {n / raw:,.0f} | "
                     f"{n / ours:,.0f} | {raw / ours:.2f}x | {min(spread):.3f}-{max(spread):.3f} |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
