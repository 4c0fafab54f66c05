"""Task functions for benchmarks/run.py.

They live in their own module (not in run.py's ``__main__``) so that every rival can import
them in its workers, whatever its start method: fork, forkserver, spawn (loky, dask's nanny),
or by-reference unpickling (cloudpickle pickles functions of importable modules by name).
run.py puts this folder on ``sys.path`` and on ``PYTHONPATH`` before it starts any pool.
"""
from __future__ import annotations

import time
from typing import Any


def square(x: int) -> int:
    """Workload 1: a tiny task; only the pool's per-task overhead is measured."""
    return x * x


def spin(n_iters: int) -> int:
    """Workload 2: a pure-Python busy loop of `n_iters` iterations (holds the GIL, no I/O).

    run.py calibrates `n_iters` once so that one call takes ~5 ms on this machine.
    """
    acc = 0
    for i in range(n_iters):
        acc ^= i
    return acc


def array_sum(arr: Any) -> float:
    """Workload 3: the task's input is a large numpy array; moving it is the cost."""
    return float(arr.sum())


def calibrate_spin(target_s: float, rounds: int = 7) -> tuple[int, float]:
    """Iterations of `spin` that take `target_s` here, and the measured seconds per call.

    Timed in CPU time of this process (`time.process_time`), so that a neighbour taking the
    CPU during calibration does not shrink the loop; median of several rounds.
    """
    n = 10_000
    while True:  # grow until one call is long enough to time reliably
        t0 = time.process_time()
        spin(n)
        took = time.process_time() - t0
        if took > 0.02:
            break
        n *= 2
    samples = []
    for _ in range(rounds):
        t0 = time.process_time()
        spin(n)
        samples.append((time.process_time() - t0) / n)
    samples.sort()
    per_iter = samples[len(samples) // 2]
    n_target = max(1, round(target_s / per_iter))
    # Check: what one call with the chosen count really takes (median).
    checks = []
    for _ in range(rounds):
        t0 = time.process_time()
        spin(n_target)
        checks.append(time.process_time() - t0)
    checks.sort()
    return n_target, checks[len(checks) // 2]


def inc(x: int) -> int:
    """Graph section: the leaves of the tree reduction, and the round-trip task."""
    return x + 1


def add(a: int, b: int) -> int:
    """Graph section: the pairwise reduction step."""
    return a + b


def sleep(seconds: float) -> float:
    """Throughput section: a task that waits (no CPU): 64 workers on 2 cores stay busy."""
    time.sleep(seconds)
    return seconds
