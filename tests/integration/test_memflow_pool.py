"""Memory by function, transfers and saturation on real worker processes (issue 14, items
3-5): a result fetched from one worker for a task on another is a transfer record with its
bytes; the bytes held per function add up to the managed bytes the same sample carries;
the stream and the busy marks give how many tasks each worker ran over time."""
from __future__ import annotations

import array
import gc
import time
from typing import Any

import pytest
from test_graph import StateFeed, _wait_until  # the subscriber thread feeding a State

from taskscope._snapshot_memflow import bin_saturation
from taskscope.pool import Pool

T = 60  # seconds: a result that takes longer means a hang


def make(n: int, delay: float = 0.0) -> bytearray:
    time.sleep(delay)
    return bytearray(n)


def total(a: Any, b: Any) -> int:
    return len(a) + len(b)


def nap(s: float) -> float:
    time.sleep(s)
    return s


@pytest.fixture(scope="module")
def pool_and_feed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path_factory.mktemp("runtime")))
    pool = Pool(2, name="memflow-tests")
    feed = StateFeed(pool)
    pool.map(nap, [0.2, 0.2], chunksize=1)  # both workers up before placement matters
    yield pool, feed
    pool.shutdown()
    feed.close()
    mp.undo()


def _stream(feed: StateFeed) -> list[list[float]]:
    with feed.lock:
        _, raw = feed.state.stream.since(0)
    flat = array.array("d", raw).tolist()
    return [flat[i:i + 6] for i in range(0, len(flat), 6)]


def test_a_fetch_between_workers_is_a_transfer_with_bytes_and_held_bytes_add_up(
        pool_and_feed: Any) -> None:
    pool, feed = pool_and_feed
    # Two results bigger than the 64 KiB that ride back with their completion: they stay on
    # the workers that made them, busy at the same time, so one per worker.
    a = pool.submit(make, 3_000_000, 0.3)
    b = pool.submit(make, 2_000_000, 0.3)
    _wait_until(lambda: a.done() and b.done(), what="the inputs")  # not result(): that fetches them here
    holders = {t.id: set(t.holders) for t in pool._driver.graph.values() if t.key in (a.key, b.key)}
    assert len(set().union(*holders.values())) == 2, holders  # one on each worker
    c = pool.submit(total, a, b)
    assert c.result(timeout=T) == 5_000_000
    transfers = [r for r in pool.task_stream() if r["state"] == "transfer"]
    ran = [r for r in pool.task_stream() if r["function"] == "total" and r["state"] != "transfer"]
    assert len(transfers) == 1 and len(ran) == 1, (transfers, ran)
    tr, run = transfers[0], ran[0]
    assert tr["worker"] == run["worker"] and tr["function"] == "total" and tr["items"] == 0
    assert 2_000_000 <= tr["nbytes"] <= 3_001_000  # the one input the worker lacked
    assert tr["start"] < tr["end"] <= run["start"] + 1e-3  # fetched before it ran
    # The State draws it: flags transfer | bytes, count = the bytes, on the receiving lane.
    _wait_until(lambda: any(int(r[5]) & 4 for r in _stream(feed)), what="the transfer in the State")
    rec = next(r for r in _stream(feed) if int(r[5]) & 4)
    assert int(rec[5]) == 36 and rec[4] == tr["nbytes"] and rec[2] == tr["worker"]

    # Memory by function: the receiving worker holds a copy of the fetched input too.
    def by_function() -> tuple[dict[str, int], int, int]:
        with feed.lock:
            st = feed.state.to_json()
        rows = {r["name"]: r["bytes"] for r in st["memory_by_function"]}
        live = sum(w["managed"] for w in st["workers"] if w["status"] not in ("exited", "died"))
        return rows, sum(rows.values()), live

    expected = 5_000_000 + tr["nbytes"]  # both inputs, plus the relayed copy

    def settled() -> bool:
        rows, held, live = by_function()
        return held == live and expected <= rows.get("make", 0) <= expected + 4096 \
            and "total" in rows
    _wait_until(settled, what=f"memory by function to match the managed bytes: {by_function()}")
    assert by_function()[1] == sum(w.managed for w in pool._driver.workers.values())
    del a, b, c
    gc.collect()
    _wait_until(lambda: by_function()[0] == {} and by_function()[2] == 0, what="the release")


def test_saturation_counts_running_tasks_per_worker(pool_and_feed: Any) -> None:
    pool, feed = pool_and_feed
    long = pool.submit(nap, 1.5)

    def worker_of_long() -> dict[str, Any] | None:
        with feed.lock:
            ws = feed.state.to_json()["workers"]
        return next((w for w in ws if w["status"] == "busy" and w.get("busy_since")), None)
    _wait_until(lambda: worker_of_long() is not None, what="a busy worker with busy_since")
    busy = worker_of_long()
    assert busy is not None
    with feed.lock:
        st = feed.state.to_json()
    # Before the task ends the stream has no bar for it; busy_since draws it up to now.
    ids, series, _ = bin_saturation([], st["workers"], busy["busy_since"], st["now"] + 0.2,
                                    bins=4, now=st["now"] + 0.2)
    assert sum(series[ids.index(busy["id"])]) > 0
    assert long.result(timeout=T) == 1.5
    t0 = time.monotonic()
    pool.map(nap, [0.25] * 8, chunksize=1)
    t1 = time.monotonic()
    _wait_until(lambda: sum(1 for r in _stream(feed) if r[0] >= t0) >= 8, what="the map's bars")
    with feed.lock:
        st = feed.state.to_json()
        _, raw = feed.state.stream.since(0)
    ids, series, slots = bin_saturation(array.array("d", raw), st["workers"], t0, t1, bins=10)
    mean = sum(map(sum, series)) / 10
    assert slots == 2 and 1.3 < mean <= 2.0 + 1e-9, (mean, series)  # both workers busy
    assert all(w.get("busy_since") is None for w in st["workers"] if w["status"] == "idle")
