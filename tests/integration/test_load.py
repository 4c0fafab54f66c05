"""Load: a 1,000,000-task map (200,000 unless TASKSCOPE_FULL=1) and a 10,000-task graph on
8 workers (this machine has 2 cores). The driver's RSS is measured at several points and must
stay flat; the counts (results and the State's) must be exact. The numbers are printed
(run with -s to see them).
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator

import psutil
import pytest
from test_faults import settled, watch  # same directory

from taskscope.pool import Pool

FULL = os.environ.get("TASKSCOPE_FULL") == "1"
N_MAP = 1_000_000 if FULL else 200_000
N_GRAPH = 10_000
WORKERS = 8
MAP_GROWTH_LIMIT_MB = 40  # the map's results are consumed as they come: nothing should pile up
GRAPH_GROWTH_LIMIT_MB = 120  # 10,000 live Futures and task records (~2 KB each) are expected
pytestmark = pytest.mark.slow


def inc(x: int) -> int:
    return x + 1


def add(a: int, b: int) -> int:
    return a + b


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    with Pool(WORKERS) as p:
        yield p


def test_a_huge_map_keeps_the_driver_flat_and_counts_exactly(pool: Pool) -> None:
    me = psutil.Process()
    col = watch(pool)
    try:
        assert pool.map(inc, range(1000)) == list(range(1, 1001))  # warm up
        base = me.memory_info().rss
        samples = []
        total = count = 0
        started = time.monotonic()
        for i, value in enumerate(pool.imap(inc, range(N_MAP))):
            total += value
            count += 1
            if i % (N_MAP // 10) == 0:
                samples.append(me.memory_info().rss)
        took = time.monotonic() - started
        samples.append(me.memory_info().rss)
        assert count == N_MAP and total == N_MAP * (N_MAP + 1) // 2
        st = settled(col, pool)
        call = st["calls"][-1]
        assert call["total"] == N_MAP and call["counts"]["released"] == N_MAP
        assert st["totals"]["done"] >= N_MAP + 1000 and st["totals"]["erred"] == 0
        growth = max(samples) - base
        print(f"\nmap of {N_MAP:,} items on {WORKERS} workers: {took:.1f} s "
              f"({N_MAP / took:,.0f} items/s); driver RSS {_mb(base)} at start, samples "
              f"{', '.join(_mb(s) for s in samples)}; growth {_mb(growth)}")
        assert growth < MAP_GROWTH_LIMIT_MB * 2**20, f"driver RSS grew by {_mb(growth)}"
    finally:
        col.stop()


def test_a_10000_task_graph_keeps_the_driver_bounded_and_counts_exactly(pool: Pool) -> None:
    me = psutil.Process()
    col = watch(pool)
    try:
        base = me.memory_info().rss
        samples = []
        started = time.monotonic()
        half = N_GRAPH // 2
        leaves = [pool.submit(inc, i) for i in range(half)]
        samples.append(me.memory_info().rss)
        sums = []
        for i in range(half):  # each sum depends on two leaves
            sums.append(pool.submit(add, leaves[i], leaves[i - 1]))
            if i % (half // 4) == 0:
                samples.append(me.memory_info().rss)
        results = pool.gather(sums)
        took = time.monotonic() - started
        samples.append(me.memory_info().rss)
        assert results == [(i + 1) + ((i - 1) % half + 1) for i in range(half)]
        assert pool.gather(leaves) == [i + 1 for i in range(half)]
        st = settled(col, pool)
        submits = [c for c in st["calls"] if c["api"] == "submit"]
        assert sum(c["submitted"] for c in submits) == N_GRAPH
        assert sum(c["counts"]["memory"] + c["counts"]["released"] for c in submits) == N_GRAPH
        assert sum(c["counts"]["erred"] + c["counts"]["cancelled"] for c in submits) == 0
        del leaves, sums, results
        after_release = me.memory_info().rss
        growth = max(samples) - base
        print(f"\ngraph of {N_GRAPH:,} tasks on {WORKERS} workers: {took:.1f} s "
              f"({N_GRAPH / took:,.0f} tasks/s); driver RSS {_mb(base)} at start, samples "
              f"{', '.join(_mb(s) for s in samples)}; growth {_mb(growth)}; "
              f"{_mb(after_release)} after the Futures were dropped")
        assert growth < GRAPH_GROWTH_LIMIT_MB * 2**20, f"driver RSS grew by {_mb(growth)}"
    finally:
        col.stop()
