"""joblib's ``"taskscope"`` backend on real pools: results, the dashboard's view of each
Parallel call (one call, its function's name, the user's line, counts that add up), errors,
aborts, timeouts, nesting and thread caps, batching, and clear errors for bad input.

joblib's own test module runs against the backend in test_joblib_suite.py; scikit-learn in
test_joblib_sklearn.py.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from typing import Any

import joblib
import pytest
from joblib import Parallel, delayed, parallel_config

import taskscope.joblib as tj
from taskscope.pool import Pool, PoolClosedError, RemoteTraceback, subscribe
from taskscope.pool.joblib import TaskscopeBackend

TIMEOUT_S = 60.0
HERE = os.path.abspath(__file__)


def square(x: int) -> int:
    return x * x


def fails_at(x: int, bad: int = 7) -> int:
    if x == bad:
        raise ValueError(f"bad input {x}")
    return x


def nap(s: float) -> float:
    time.sleep(s)
    return s


def inner_parallel(n: int) -> dict[str, Any]:
    """Runs in a worker: what a nested Parallel call and the native thread pools get there."""
    import joblib.parallel as jp
    from threadpoolctl import threadpool_info

    backend, _ = jp.get_active_backend()
    out = Parallel(n_jobs=-1)(delayed(square)(i) for i in range(n))
    return {"sum": sum(out), "backend": type(backend).__name__,
            "effective": backend.effective_n_jobs(-1),
            "omp": os.environ.get("OMP_NUM_THREADS"),
            "blas": [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]}


def blas_threads(_: int) -> list[int]:
    import numpy  # noqa: F401  (loads OpenBLAS in the worker)
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def pool() -> Iterator[Pool]:
    with Pool(2, name="joblib-test") as p:
        yield p


@pytest.fixture
def events(pool: Pool) -> Iterator[Any]:
    """A subscriber to `pool`'s events; `.until_ended(n)` collects until n calls ended."""
    info = pool.connection_info()
    sub = subscribe(info["events"], info["key"])
    collected: list[Any] = []

    def until_ended(n: int = 1) -> list[Any]:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            collected.extend(sub.recv(timeout=0.2))
            if sum(ev.kind == "call.ended" for ev in collected) >= n:
                return collected
        raise AssertionError(f"no call.ended; kinds {[e.kind for e in collected][-30:]}")

    sub.until_ended = until_ended  # type: ignore[attr-defined]
    sub.recv(timeout=5)  # the snapshot answering the subscription
    yield sub
    sub.close()


def _counts(evs: list[Any], call: int) -> dict[str, int]:
    c = {"queued": 0, "done": 0, "erred": 0, "cancelled": 0}
    for ev in evs:
        b = ev.body
        if b.get("call") != call:
            continue
        if ev.kind == "task.queued" and not b.get("was") and not b.get("retry"):
            c["queued"] += b["n"]
        elif ev.kind == "task.finished":
            c["done"] += b["n"] - b["n_erred"]
            c["erred"] += b["n_erred"]
        elif ev.kind == "task.cancelled":
            c["cancelled"] += b["n"]
    return c


def test_results_and_return_as_on_a_given_pool(pool: Pool, events: Any) -> None:
    with parallel_config(backend="taskscope", pool=pool):
        assert Parallel()([delayed(square)(i) for i in range(50)]) == [i * i for i in range(50)]
        gen = Parallel(return_as="generator")(delayed(square)(i) for i in range(20))
        assert list(gen) == [i * i for i in range(20)]
        unordered = Parallel(return_as="generator_unordered")(delayed(square)(i) for i in range(20))
        assert sorted(unordered) == [i * i for i in range(20)]
    evs = events.until_ended(3)
    started = [e.body for e in evs if e.kind == "call.started"]
    assert [s["api"] for s in started] == ["joblib"] * 3
    assert {s["fn"] for s in started} == {"square"}
    assert started[0]["module"] == __name__ and started[0]["file"] == HERE
    # The call site is this test's line, not joblib's.
    site = started[0]["callsite"]
    assert site["file"] == HERE and "Parallel()([delayed(square)" in site["code"], site
    ended = [e.body for e in evs if e.kind == "call.ended"]
    assert [e["status"] for e in ended] == ["done"] * 3
    assert [e["done"] for e in ended] == [50, 20, 20]
    assert started[0]["total"] == 50  # a list: known at once; a generator's comes with call.total
    totals = {e.body["call"]: e.body["total"] for e in evs if e.kind == "call.total"}
    assert totals.get(started[1]["call"]) == 20
    for s in started:
        assert _counts(evs, s["call"]) == {"queued": s["total"] or 20, "done": s["total"] or 20,
                                           "erred": 0, "cancelled": 0}


def test_error_reraised_with_remote_traceback_and_rest_aborted(pool: Pool, events: Any) -> None:
    with parallel_config(backend="taskscope", pool=pool), pytest.raises(ValueError) as info:
        Parallel(batch_size=3)(delayed(fails_at)(i) for i in range(200))
    exc = info.value
    assert str(exc) == "bad input 7"  # the task's own exception, re-raised as joblib does
    assert isinstance(exc.__cause__, RemoteTraceback)
    assert "fails_at" in exc.__cause__.tb and "ValueError: bad input 7" in exc.__cause__.tb
    evs = events.until_ended()
    call = next(e.body for e in evs if e.kind == "call.started")["call"]
    ended = next(e.body for e in evs if e.kind == "call.ended")
    assert ended["status"] == "erred" and ended["erred"] == 1
    erred = [e.body for e in evs if e.kind == "task.erred"]
    assert len(erred) == 1 and erred[0]["index"] == 7 and "bad input 7" in erred[0]["traceback"]
    c = _counts(evs, call)
    # Every item handed over ends once: the batch holding 7 stopped there (the items after it
    # are cancelled, as in joblib's own batches), the others were aborted; the rest of the
    # (lazy) input was never read: total = what was handed over.
    assert c["erred"] == 1 and c["done"] + c["erred"] + c["cancelled"] == c["queued"], c
    # Items 0-6 ran before the failing one; a batch another worker was running when 7 failed
    # may finish too (batches of 3, a few in flight): far fewer than the 200.
    assert c["queued"] < 200 and c["done"] <= 7 + 3 * 3, c
    total = [e.body["total"] for e in evs if e.kind == "call.total"]
    assert total == [c["queued"]], total
    assert pool.map(square, [3]) == [9]  # the pool is fine afterwards
    # As for a map: pool.errors keeps the failure, and rerun() runs it here (for %debug).
    failure = pool.errors[-1]
    assert failure.fn_name == "fails_at" and failure.index == 7
    with pytest.raises(ValueError, match="bad input 7"):
        failure.rerun()


def test_abort_kills_running_batches_quickly(pool: Pool) -> None:
    t0 = time.monotonic()
    with parallel_config(backend="taskscope", pool=pool), pytest.raises(TypeError):
        Parallel()(delayed(time.sleep)(x) for x in ["a"] + [10] * 20)
    assert time.monotonic() - t0 < 8
    # The workers that ran the sleeps were killed and replaced: new work runs at once.
    t1 = time.monotonic()
    assert pool.map(square, range(4)) == [0, 1, 4, 9]
    assert time.monotonic() - t1 < 8


def test_timeout_raises_and_stops_the_batch(pool: Pool, events: Any) -> None:
    # joblib's timeout counts from when it first waits for a batch, not from when the batch
    # starts. The killed batches fail with TaskTimeoutError only if they had begun in their
    # worker (one that had not is cancelled, as it never ran): so the workers are started
    # first, and the timeout leaves a loaded machine's worker time to begin its batch.
    deadline = time.monotonic() + TIMEOUT_S
    while not all(w.ready for w in list(pool._driver.workers.values())):
        assert time.monotonic() < deadline, "the pool's workers did not start"
        time.sleep(0.01)
    t0 = time.monotonic()
    # joblib raises multiprocessing's TimeoutError (not the builtin one), whatever the backend.
    with parallel_config(backend="taskscope", pool=pool), \
            pytest.raises(multiprocessing.TimeoutError):
        Parallel(timeout=2)(delayed(nap)(x) for x in [0.01, 20, 20])
    assert time.monotonic() - t0 < 10
    evs = events.until_ended()
    ended = next(e.body for e in evs if e.kind == "call.ended")
    assert ended["status"] == "erred"
    erred = [e.body for e in evs if e.kind == "task.erred"]
    assert erred and all(e["exc_type"] == "TaskTimeoutError" for e in erred)
    assert "timeout=2" in erred[0]["message"]


def test_nested_parallel_runs_in_the_worker_without_oversubscription(pool: Pool) -> None:
    pytest.importorskip("threadpoolctl")
    with parallel_config(backend="taskscope", pool=pool):
        out = Parallel()(delayed(inner_parallel)(10) for _ in range(2))
    cap = max(1, joblib.cpu_count() // 2)
    for r in out:
        assert r["sum"] == sum(i * i for i in range(10))
        assert r["backend"] == "NestedThreads" and r["effective"] == cap
        assert r["omp"] == str(os.environ.get("OMP_NUM_THREADS", cap))
    # BLAS already loaded in the worker is capped too (threadpoolctl), not only new loads.
    with parallel_config(backend="taskscope", pool=pool):
        Parallel()(delayed(blas_threads)(i) for i in range(2))
        caps = Parallel()(delayed(blas_threads)(i) for i in range(4))
    assert all(t <= cap for threads in caps for t in threads), caps


def test_inner_max_num_threads(pool: Pool) -> None:
    with parallel_config(backend="taskscope", pool=pool, inner_max_num_threads=3):
        out = Parallel()(delayed(inner_parallel)(5) for _ in range(2))
    # n_jobs=-1 inside: all CPUs, capped at 3 threads.
    assert {r["effective"] for r in out} == {min(3, joblib.cpu_count())}
    assert {r["omp"] for r in out} == {"3"}


def test_auto_batching_uses_few_batches_for_tiny_tasks(pool: Pool, events: Any) -> None:
    with parallel_config(backend="taskscope", pool=pool):
        out = Parallel()(delayed(square)(i) for i in range(50_000))
    assert out[-1] == 49_999 ** 2
    evs = events.until_ended()
    sizes = [e.body["n"] for e in evs if e.kind == "task.queued"]
    assert sum(sizes) == 50_000
    assert sizes[0] == 1 and max(sizes) > 1000 and len(sizes) < 200, sizes


def test_reusable_pool_is_made_on_first_use_and_reused() -> None:
    try:
        with parallel_config(backend="taskscope", n_jobs=2):
            assert Parallel()(delayed(square)(i) for i in range(10))[-1] == 81
            first = tj.get_pool()
            assert first is not None and first.n_workers == 2 and first.name == "joblib"
            Parallel()(delayed(square)(i) for i in range(10))
            assert tj.get_pool() is first
        with parallel_config(backend="taskscope", n_jobs=1):  # sequential: no pool needed
            assert Parallel()(delayed(square)(i) for i in range(3)) == [0, 1, 4]
        assert joblib.effective_n_jobs() >= 1
    finally:
        p = tj.get_pool()
        if p is not None:
            p.shutdown()


def test_bad_input_gets_clear_errors(pool: Pool) -> None:
    with pytest.raises(TypeError, match=r"unknown parameter.*bogus.*takes pool"), \
            parallel_config(backend="taskscope", bogus=1):
        pass
    with parallel_config(backend="taskscope", pool=pool), \
            pytest.raises(ValueError, match=r"n_jobs == 0 .*pass n_jobs=-1"):
        Parallel(n_jobs=0)(delayed(square)(i) for i in range(3))
    with pytest.raises(TypeError, match=r"pool= must be a taskscope\.Pool, not int"):
        TaskscopeBackend(pool=3)
    closed = Pool(1)
    closed.shutdown()
    with pytest.raises(PoolClosedError, match=r"pool= .* is closed; pass a live"), \
            parallel_config(backend="taskscope", pool=closed):
        pass
    # Closed after being handed over: the next call says so too.
    later = Pool(1)
    with parallel_config(backend="taskscope", pool=later):
        later.shutdown()
        with pytest.raises(PoolClosedError, match="is closed"):
            Parallel(n_jobs=2)(delayed(square)(i) for i in range(3))
    with pytest.raises(ValueError, match="initializer= is for the reusable pool"):
        TaskscopeBackend(pool=pool, initializer=print)


def test_unpicklable_argument_fails_that_batch_with_its_name(pool: Pool, events: Any) -> None:
    import threading

    lock = threading.Lock()
    with parallel_config(backend="taskscope", pool=pool), pytest.raises(TypeError) as info:
        Parallel()(delayed(square)(x) for x in [1, 2, lock])
    assert "argument 0 of item 2" in str(info.value)
    evs = events.until_ended()
    erred = [e.body for e in evs if e.kind == "task.erred"]
    assert erred and "argument 0 of item 2" in erred[0]["message"]


class _Cycle:
    """An object in a reference cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


def test_caller_collector_skips_old_objects_only_during_a_list_call(pool: Pool) -> None:
    import gc
    import weakref

    old = _Cycle()
    old_ref = weakref.ref(old)
    seen: list[int] = []
    made_during: list[weakref.ref] = []

    def tasks(n: int, drop_old: bool = False) -> Iterator[Any]:
        nonlocal old
        for i in range(n):
            seen.append(gc.get_freeze_count())  # read in the caller, while joblib reads this
            if drop_old and i == 5:
                old = None  # an old cycle becomes garbage during the call
                new = _Cycle()
                made_during.append(weakref.ref(new))
                del new
                gc.collect()
            yield delayed(square)(i)

    assert gc.get_freeze_count() == 0
    with parallel_config(backend="taskscope", pool=pool):
        assert Parallel(batch_size=4)(tasks(40, drop_old=True)) == [i * i for i in range(40)]
        assert max(seen) > 0  # frozen while the call ran
        assert made_during[0]() is None  # what the call made is still collected at once
        assert old_ref() is not None  # the old cycle waited for the end of the call...
        assert gc.get_freeze_count() == 0
        gc.collect()
        assert old_ref() is None  # ...and is collected after it

        seen.clear()  # a generator call may stay open for long: nothing is frozen
        assert list(Parallel(return_as="generator")(tasks(20))) == [i * i for i in range(20)]
        assert seen and max(seen) == 0

        gc.freeze()  # objects someone else froze: left as they are, never unfrozen here
        try:
            frozen = gc.get_freeze_count()
            assert Parallel()(tasks(20)) == [i * i for i in range(20)]
            # (a frozen object freed by its refcount leaves the count: not unfrozen, though)
            assert gc.get_freeze_count() > frozen // 2
        finally:
            gc.unfreeze()
