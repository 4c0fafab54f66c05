"""joblib on taskscope against joblib on loky, side by side in one run.

    .venv/bin/python benchmarks/joblib_bench.py            # ~2-3 minutes on 2 cores
    .venv/bin/python benchmarks/joblib_bench.py --reps 7 --tiny 400000

Workloads, each run on both backends in alternation (loky, taskscope, loky, ...), after a
warm-up call each (workers started, scikit-learn imported), with the same code:

1. tiny: ``Parallel(n_jobs=N)(delayed(square)(i) for i in range(n))``, batch_size="auto":
   only the backends' per-task cost is measured (joblib's own, in the caller, is the same);
2. GridSearchCV(SVC(), 3x3 grid, cv=5, n_jobs=N) on scikit-learn's load_digits (1797 x 64).

With "tiny", a third row times the caller's own share, no backend at all: only iterating
``delayed(square)(i) for i in range(n)`` (``delayed`` runs functools.wraps per task). joblib
builds every task in the caller's process, so no backend can be faster than that row:
loky's time over it is the best ratio any backend could reach in the same run.

Prints a markdown table (medians, spread, ratio loky/taskscope: >1 means taskscope is faster)
to stdout; progress to stderr.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # workloads.py: importable by every worker
os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_tiny(n: int, workers: int) -> float:
    from joblib import Parallel, delayed
    from workloads import square

    t0 = time.perf_counter()
    out = Parallel(n_jobs=workers)(delayed(square)(i) for i in range(n))
    took = time.perf_counter() - t0
    assert len(out) == n and out[-1] == (n - 1) ** 2
    return took


def run_floor(n: int) -> float:
    from joblib import delayed
    from workloads import square

    t0 = time.perf_counter()
    for _ in (delayed(square)(i) for i in range(n)):
        pass
    return time.perf_counter() - t0


def run_search(workers: int) -> tuple[float, Any]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    grid = {"C": [1, 10, 100], "gamma": [0.0005, 0.001, 0.005]}
    t0 = time.perf_counter()
    search = GridSearchCV(SVC(), grid, cv=5, n_jobs=workers).fit(X, y)
    return time.perf_counter() - t0, tuple(search.cv_results_["mean_test_score"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--tiny", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--only", default="tiny,search")
    args = parser.parse_args()
    import joblib
    from joblib import parallel_config
    from joblib.externals.loky import get_reusable_executor

    import taskscope
    import taskscope.joblib as tj

    workloads = args.only.split(",")
    times: dict[tuple[str, str], list[float]] = {}
    scores: dict[str, Any] = {}
    load_before = os.getloadavg()
    t_start = time.perf_counter()
    for backend in ("loky", "taskscope"):  # warm-up: start the workers, import scikit-learn
        with parallel_config(backend=backend, n_jobs=args.workers):
            run_tiny(10_000, args.workers)
            if "search" in workloads:
                run_search(args.workers)
    for rep in range(args.reps):
        for backend in ("loky", "taskscope"):
            with parallel_config(backend=backend, n_jobs=args.workers):
                if "tiny" in workloads:
                    times.setdefault(("tiny", backend), []).append(run_tiny(args.tiny, args.workers))
                if "search" in workloads:
                    took, score = run_search(args.workers)
                    times.setdefault(("search", backend), []).append(took)
                    scores[backend] = score
        if "tiny" in workloads:
            times.setdefault(("tiny", "floor"), []).append(run_floor(args.tiny))
        _log(f"rep {rep + 1}/{args.reps}: " + ", ".join(
            f"{w}/{b} {v[-1]:.3f}s" for (w, b), v in times.items()))
    if "search" in workloads:
        assert scores["loky"] == scores["taskscope"], "GridSearchCV results differ"
    get_reusable_executor().shutdown(wait=True)
    pool = tj.get_pool()
    if pool is not None:
        pool.shutdown()

    print(f"- {args.workers} workers each; Python {platform.python_version()}; joblib "
          f"{joblib.__version__}, taskscope {taskscope.__version__}, "
          f"scikit-learn {__import__('sklearn').__version__}")
    print(f"- median of {args.reps} alternating repetitions after a warm-up; load average "
          f"before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; whole run "
          f"{time.perf_counter() - t_start:.0f} s\n")
    print("| workload | loky median s | taskscope median s | loky / taskscope | spread loky | spread taskscope |")
    print("|---|---|---|---|---|---|")
    names = {"tiny": f"{args.tiny:,} tiny tasks (x*x), batch_size='auto'",
             "search": "GridSearchCV(SVC, 9 candidates x 5 folds) on load_digits"}
    for w in workloads:
        lk, ts = times[(w, "loky")], times[(w, "taskscope")]
        ml, mt = statistics.median(lk), statistics.median(ts)
        print(f"| {names[w]} | {ml:.3f} | {mt:.3f} | {ml / mt:.2f}x | "
              f"{min(lk):.3f}-{max(lk):.3f} | {min(ts):.3f}-{max(ts):.3f} |")
    if "tiny" in workloads:
        fl, lk = statistics.median(times[("tiny", "floor")]), statistics.median(times[("tiny", "loky")])
        print(f"| the caller only building the tasks (no backend: the floor) | | {fl:.3f} | "
              f"{lk / fl:.2f}x (the bound) | | {min(times[('tiny', 'floor')]):.3f}-"
              f"{max(times[('tiny', 'floor')]):.3f} |")
    if "search" in workloads:
        print("\n- GridSearchCV's cv_results_ were identical on both backends in every repetition")


if __name__ == "__main__":
    main()
