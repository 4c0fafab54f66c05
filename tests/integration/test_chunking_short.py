"""A short map on real workers (pool/chunking.py, "a short call"): once the function's item
time is known, each worker's part goes in three chunks, the first two in one message, and
the last round is cut from this call's own timing. Results and counts stay whole."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from taskscope.collector import Collector
from taskscope.pool import Pool

N_WORKERS = 8
RESULT_TIMEOUT_S = 60


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@pytest.fixture
def pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    with Pool(N_WORKERS, name="short-map-test") as p:
        deadline = time.monotonic() + RESULT_TIMEOUT_S
        while sum(w.ready for w in list(p._driver.workers.values())) < N_WORKERS:
            assert time.monotonic() < deadline, "workers still starting"
            time.sleep(0.02)
        yield p


def _last_call(pool: Pool):
    return max(pool._driver.calls.values(), key=lambda c: c.id)


def test_a_short_map_goes_in_three_chunks_a_worker(pool: Pool) -> None:
    info = pool.connection_info()
    col = Collector(info["events"], info["key"], "t")
    try:
        warm = [0.001] * 400
        assert pool.map(nap, warm) == warm  # times nap: the next call of it starts sized
        col.wait_for(lambda s: s.totals["done"] >= len(warm), RESULT_TIMEOUT_S)
        records_before = col.state.stream.total  # one task record per chunk
        # 2,400 items of ~1 ms on 8 workers: ~0.3 s a worker, inside the short-call window
        # with room for a machine twice as slow.
        xs = [0.001 + i * 1e-9 for i in range(2400)]
        sent_before = pool._driver.codec._seq
        assert pool.map(nap, xs) == xs
        messages = pool._driver.codec._seq - sent_before
        col.wait_for(lambda s: s.totals["done"] >= len(warm) + len(xs), RESULT_TIMEOUT_S)
        chunks = col.state.stream.total - records_before
        # Rounds of target-sized chunks cut it in ~6 chunks a worker (48), each its own
        # message; a short call is 3 a worker in 2 messages (and one more round if the items
        # got much slower on the way).
        assert chunks <= 4 * N_WORKERS, f"{chunks} chunks"
        assert messages <= 3 * N_WORKERS, f"{messages} messages for {chunks} chunks"
        assert messages < chunks  # the first two chunks of each worker shared a message
        call = max(col.state.calls.values(), key=lambda c: c["id"])
        assert call["counts"]["released"] == len(xs) and call["counts"]["processing"] == 0
    finally:
        col.stop()


def test_an_item_failing_in_the_second_chunk_of_a_first_message_fails_alone(pool: Pool) -> None:
    warm = [0.001] * 400
    assert pool.map(nap, warm) == warm
    xs: list[object] = [0.001] * 2400
    # The first message of worker 0 holds items 0-149 (two chunks of 75): 100 is in its
    # second chunk. A string makes time.sleep raise TypeError there.
    xs[100] = "not a number"
    with pytest.raises(TypeError):
        pool.map(nap, xs)
    call = _last_call(pool)
    assert call.erred >= 1
    assert call.done + call.erred + call.cancelled == len(xs)
    assert pool.map(nap, warm) == warm  # the pool carries on
