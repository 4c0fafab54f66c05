"""The cheap per-task path (issue 13) on real workers: many small tasks per message, a death
blamed on the one task that caused it, every event still counted, memory flat over millions
of tiny tasks (10 million with TASKSCOPE_FULL=1; a bounded size otherwise)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest

from taskscope.collector import Collector
from taskscope.pool import Pool, WorkerDiedError

RESULT_TIMEOUT_S = 60
FULL = os.environ.get("TASKSCOPE_FULL") == "1"


def square(x: int) -> int:
    return x * x


def inc(x: int) -> int:
    return x + 1


def die_at(x: int, bad: int) -> int:
    if x == bad:
        os._exit(3)
    return x


@pytest.fixture
def pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    with Pool(2, name="throughput-test") as p:
        yield p


def test_chunksize_one_travels_many_tasks_per_message_and_every_event_counts(pool: Pool) -> None:
    info = pool.connection_info()
    col = Collector(info["events"], info["key"], "t")
    try:
        assert pool.map(square, range(50)) == [x * x for x in range(50)]  # timed: small items
        sent_before = pool._driver.codec._seq
        n = 3000
        assert pool.map(square, range(n), chunksize=1) == [x * x for x in range(n)]
        messages = pool._driver.codec._seq - sent_before
        assert messages < n / 5, f"{messages} messages for {n} one-item tasks"
        # Each item is still its own task: the State counts it and draws its record.
        col.wait_for(lambda s: s.totals["done"] >= n + 50, RESULT_TIMEOUT_S)
        st = col.state
        call = max(st.calls.values(), key=lambda c: c["id"])
        assert call["counts"]["released"] == n and call["counts"]["processing"] == 0
        assert st.stream.total >= n
    finally:
        col.stop()


def test_submitted_tasks_batch_too_and_a_death_fails_only_its_task(pool: Pool) -> None:
    pool.map(inc, range(20))
    futures = [pool.submit(die_at, x, 250) for x in range(500)]
    errors = {i: f.exception(RESULT_TIMEOUT_S) for i, f in enumerate(futures)}
    failed = [i for i, e in errors.items() if e is not None]
    assert failed == [250], failed  # the others of its message ran again, and succeeded
    assert isinstance(errors[250], WorkerDiedError) and "die_at" in str(errors[250])
    assert [f.result() for i, f in enumerate(futures) if i != 250] == \
        [x for x in range(500) if x != 250]


def _rss(proc: psutil.Process) -> int:
    return proc.memory_info().rss


def test_memory_stays_flat_over_many_tiny_tasks(pool: Pool) -> None:
    """Driver and worker RSS after the first fifth vs at the end of one long imap."""
    n = 10_000_000 if FULL else 2_000_000
    me = psutil.Process()
    assert pool.map(square, range(100)) == [x * x for x in range(100)]
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while sum(w.ready for w in list(pool._driver.workers.values())) < pool.n_workers:
        assert time.monotonic() < deadline, "workers still starting"
        time.sleep(0.02)
    workers = [psutil.Process(w.pid) for w in pool._driver.workers.values()]
    assert len(workers) == pool.n_workers
    marks: dict[str, list[int]] = {}
    total = 0
    started = time.monotonic()
    for i, y in enumerate(pool.imap(square, range(n))):
        total += y
        if i in (n // 5, n - 1):
            marks.setdefault("driver", []).append(_rss(me))
            for k, w in enumerate(workers):
                marks.setdefault(f"worker {k}", []).append(_rss(w))
    assert total == sum(x * x for x in range(n))
    growth = {k: (v[1] - v[0]) / 2**20 for k, v in marks.items()}
    print(f"\n{n:,} tiny tasks in {time.monotonic() - started:.1f} s; RSS growth from the "
          "first fifth to the end, MiB: " + ", ".join(f"{k} {g:+.1f}" for k, g in growth.items()))
    # Flat: what grows is bounded by chunks in flight, not by the tasks run.
    assert all(g < 40 for g in growth.values()), (growth, time.monotonic() - started)
