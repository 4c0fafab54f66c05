"""Answers in the 1.6 shapes on real workers: clean answers as columns, small results inline
(`value`), mixed with payload frames, packed map values, errors and shared memory in one
message, and the counts a subscribed State sees (docs/protocol.md, "Clean answers as columns").
"""
from __future__ import annotations

import time
from typing import Any

import pytest

from taskscope.pool import Pool, subscribe
from taskscope.state import State

T = 60  # seconds: a result that takes longer means a hang


def blob(n: int) -> bytes:
    return bytes([n % 251]) * n


def maybe_fail(i: int) -> int:
    if i % 7 == 3:
        raise ValueError(f"item {i}")
    return i * 2


def length(b: bytes) -> int:
    return len(b)


@pytest.fixture(scope="module")
def pool() -> Any:
    with Pool(2, name="columns") as p:
        yield p


def test_results_around_the_inline_bound_and_larger_come_back_whole(pool: Pool) -> None:
    # Pickles from just under to just over 4 KiB (inline / own frame), one over the 64 KiB
    # eager bound (kept on the worker, fetched), one in shared memory: all in flight at once,
    # so many share a message, and dependents read the kept and the inline ones.
    sizes = [*range(4000, 4200, 3), 70_000, 2_000_000, 1, 0]
    futures = [pool.submit(blob, n) for n in sizes]
    lengths = [pool.submit(length, f) for f in futures]
    assert [f.result(timeout=T) for f in futures] == [blob(n) for n in sizes]
    assert [f.result(timeout=T) for f in lengths] == sizes


def test_errors_mixed_with_clean_units_in_one_answer(pool: Pool) -> None:
    # Submitted tasks travel up to 256 to a message: an erring one sends that answer as
    # records, its clean neighbours (inline values) with it; a map of chunksize=1 the same
    # with packed values.
    n = 600
    futures = [pool.submit(maybe_fail, i) for i in range(n)]
    for i, f in enumerate(futures):
        if i % 7 == 3:
            with pytest.raises(ValueError, match=f"^item {i}\n"):
                f.result(timeout=T)
        else:
            assert f.result(timeout=T) == i * 2
    xs = [*range(3990, 4110), 70_000, 2_000_000]  # packed values, one in shared memory
    assert pool.map(blob, xs, chunksize=1) == [blob(n) for n in xs]
    with pytest.raises(ValueError, match="^item 3\n"):
        pool.map(maybe_fail, range(n), chunksize=1)


def test_a_subscribed_state_counts_every_unit(pool: Pool) -> None:
    info = pool.connection_info()
    state = State()

    kinds: set[str] = set()

    def take(until: Any) -> None:
        deadline = time.monotonic() + T
        while not until():
            assert time.monotonic() < deadline, f"the State counted {state.totals}"
            events = sub.recv(timeout=0.2)
            kinds.update(e.kind for e in events)
            state.apply_all(events)

    with subscribe(info["events"], info["key"]) as sub:
        take(lambda: "snapshot" in kinds)
        before = dict(state.totals)
        futures = [pool.submit(maybe_fail, i) for i in range(500)]
        erred = sum(f.exception(timeout=T) is not None for f in futures)
        assert erred == len([i for i in range(500) if i % 7 == 3])
        take(lambda: state.totals["done"] - before["done"] >= 500 - erred
             and state.totals["erred"] - before["erred"] >= erred)
    assert state.totals["done"] - before["done"] == 500 - erred
    assert state.totals["erred"] - before["erred"] == erred


def test_the_executor_gets_inline_results_without_fetching() -> None:
    # Its results are not kept on the worker: a small one arrives inline or not at all.
    from taskscope.pool.executor import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as ex:
        sizes = [*range(4080, 4110), 0, 1, 100_000]
        futures = [ex.submit(blob, n) for n in sizes]
        assert [f.result(timeout=T) for f in futures] == [blob(n) for n in sizes]
