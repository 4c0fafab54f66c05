"""The public Pool API on real worker processes and real ZeroMQ sockets; nothing is mocked.

Functions the workers run are defined at module level (pickled by reference: the worker
imports this module), inside tests (pickled by value by cloudpickle), or as lambdas/closures.
Pools are small (2 workers) and always shut down, so the leak check in tests/conftest.py holds.
"""
from __future__ import annotations

import _thread
import collections
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

import psutil
import pytest

from taskscope.pool import (FailedTask, Pool, PoolBrokenError, PoolClosedError, RemoteTraceback,
                            SerializationError, TaskError, WorkerDiedError,
                            subscribe)
from taskscope.pool.chunking import FIRST_CHUNK

FULL = os.environ.get("TASKSCOPE_FULL") == "1"
RESULT_TIMEOUT_S = 60  # a future that takes longer than this means a hang: fail loudly
START_METHODS = ["forkserver", "spawn"]


# ------------------------------------------------------------------ functions run by workers
def square(x: int) -> int:
    return x * x


def add(a: int, b: int, c: int = 0) -> int:
    return a + b + c


def with_pid(x: Any) -> tuple[Any, int]:
    return x, os.getpid()


def identity(x: Any) -> Any:
    return x


def fail_on_13(x: int) -> int:
    if x == 13:
        raise ValueError(f"bad value {x}")
    return x


def return_a_lock(x: int) -> Any:
    return threading.Lock() if x == 12 else x


class NeedsTwoArgs(Exception):
    """Pickles, but does not unpickle (args holds one string, __init__ wants two)."""

    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a} and {b}")


def raise_unpicklable_exception(x: int) -> int:
    if x == 3:
        raise NeedsTwoArgs(x, x + 1)
    return x


class Unpicklable:
    def __repr__(self) -> str:
        return "<Unpicklable thing>"

    def __reduce__(self) -> Any:
        raise TypeError("Unpicklable refuses to be pickled")


def kill_myself_after_noting_pid(path: str, sig: int = signal.SIGKILL) -> None:
    Path(path).write_text(str(os.getpid()))
    os.kill(os.getpid(), sig)


def wait_for_file(path: str, x: Any = None, timeout: float = 30.0) -> Any:
    """Block until `path` exists (a gate the test opens), then return x."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {path} never opened")
        time.sleep(0.005)
    return x


def set_env_from_initializer(name: str, value: str) -> None:
    os.environ[name] = value


def read_env(name: str) -> Any:
    return os.environ.get(name), os.getpid()


def init_state(state: dict[str, Any], tag: str) -> None:
    state["tag"] = tag
    state["pid"] = os.getpid()


def count_in_state(state: dict[str, Any], x: int) -> tuple[int, int, str, int]:
    state["n"] += 1
    return os.getpid(), state["n"], state["tag"], x


def failing_initializer() -> None:
    raise RuntimeError("no database here")


# ------------------------------------------------------------------ fixtures
@pytest.fixture
def pool() -> Iterator[Pool]:
    with Pool(2) as p:
        yield p


@pytest.fixture(params=START_METHODS)
def any_pool(request: pytest.FixtureRequest) -> Iterator[Pool]:
    with Pool(2, start_method=request.param) as p:
        yield p


def _counting(n: int, seen: list[int]) -> Iterator[int]:
    for i in range(n):
        seen[0] = i + 1
        yield i


# ------------------------------------------------------------------ the API, exact results
def test_map_is_exact_and_ordered(pool: Pool) -> None:
    xs = list(range(1000))
    assert pool.map(square, xs) == [x * x for x in xs]
    assert pool.map(square, range(7)) == [0, 1, 4, 9, 16, 25, 36]
    assert pool.map(square, (x for x in [3, 1, 2])) == [9, 1, 4]


def test_imap_is_lazy_and_ordered(pool: Pool) -> None:
    it = pool.imap(square, range(500))
    assert not isinstance(it, list)
    assert list(it) == [x * x for x in range(500)]


def test_imap_unordered_gives_every_result_once(pool: Pool) -> None:
    got = list(pool.imap_unordered(square, range(500)))
    assert collections.Counter(got) == collections.Counter(x * x for x in range(500))


def test_starmap(pool: Pool) -> None:
    assert pool.starmap(add, [(1, 2), (3, 4), (5, 6, 7)]) == [3, 7, 18]
    assert pool.starmap(pow, ((2, k) for k in range(10))) == [2**k for k in range(10)]


def test_submit_and_apply(pool: Pool) -> None:
    futures = [pool.submit(add, i, 1, c=10) for i in range(50)]
    assert [f.result(RESULT_TIMEOUT_S) for f in futures] == [i + 11 for i in range(50)]
    assert pool.apply(add, 2, 3) == 5
    assert pool.apply(add, 2, 3, c=4) == 9
    assert pool.apply(divmod, 7, 2) == (3, 1)  # a builtin


def test_empty_input(pool: Pool) -> None:
    assert pool.map(square, []) == []
    assert pool.starmap(add, []) == []
    assert list(pool.imap(square, iter([]))) == []
    assert list(pool.imap_unordered(square, ())) == []
    assert pool.map(square, [5]) == [25]  # and the pool is fine after


def test_chunksize_override_sets_every_chunk(pool: Pool) -> None:
    with subscribe(**_conn(pool)) as sub:
        _wait_for_kind(sub, "snapshot")  # connected: no event of the call can be missed
        assert pool.map(square, range(103), chunksize=10) == [x * x for x in range(103)]
        events = _collect_until_call_ended(sub)
    sizes = [e.body["n"] for e in events if e.kind == "task.queued"]
    assert sizes == [10] * 10 + [3]
    assert all(e.body["n"] in (10, 3) for e in events if e.kind == "task.processing")


def test_adaptive_chunks_batch_tiny_items(pool: Pool) -> None:
    with subscribe(**_conn(pool)) as sub:
        _wait_for_kind(sub, "snapshot")
        assert pool.map(square, range(20_000)) == [x * x for x in range(20_000)]
        events = _collect_until_call_ended(sub)
    sizes = [e.body["n"] for e in events if e.kind == "task.queued"]
    assert sum(sizes) == 20_000
    assert max(sizes) > 100 and len(sizes) < 1000  # batched, not one message per item


def test_a_second_map_of_a_function_starts_from_its_measured_item_time(pool: Pool) -> None:
    """The first map of a function probes with small chunks; the next map of the same
    function starts with sized chunks (at most a quarter of a worker's share, 2,000 / 8),
    and a map of another function probes again."""
    def first_sizes() -> list[int]:
        events = _collect_until_call_ended(sub)
        return [e.body["n"] for e in events if e.kind == "task.queued"]

    with subscribe(**_conn(pool)) as sub:
        _wait_for_kind(sub, "snapshot")
        assert pool.map(square, range(2_000)) == [x * x for x in range(2_000)]
        probed = first_sizes()
        assert pool.map(square, range(2_000)) == [x * x for x in range(2_000)]
        seeded = first_sizes()
        assert pool.map(abs, range(2_000)) == list(range(2_000))
        other = first_sizes()
    assert probed[:2] == [FIRST_CHUNK, FIRST_CHUNK]
    assert FIRST_CHUNK < seeded[0] <= 250 and sum(seeded) == 2_000
    assert len(seeded) < len(probed)
    assert other[:2] == [FIRST_CHUNK, FIRST_CHUNK]


def test_context_manager_shuts_down_and_waits() -> None:
    with Pool(2) as p:
        pids = {pid for _, pid in p.map(with_pid, range(20), chunksize=1)}
        assert p.status == "running"
    assert p.status == "closed"
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                   for pid in pids)
    with pytest.raises(PoolClosedError, match="shut down"):
        p.map(square, [1])


def test_shutdown_wait_runs_pending_work_then_refuses_more() -> None:
    p = Pool(2)
    futures = [p.submit(square, i) for i in range(20)]
    p.shutdown(wait=True)
    assert [f.result(0) for f in futures] == [i * i for i in range(20)]
    for call in (lambda: p.submit(square, 1), lambda: p.apply(square, 1),
                 lambda: p.map(square, [1]), lambda: p.imap(square, [1]),
                 lambda: p.starmap(add, [(1, 2)])):
        with pytest.raises(PoolClosedError, match=f"pool {p.name!r} is shut down"):
            call()
    p.shutdown()  # twice is harmless
    assert p.status == "closed"


def test_shutdown_without_wait_returns_at_once_and_work_finishes(tmp_path: Path) -> None:
    gate = str(tmp_path / "gate")
    p = Pool(2)
    futures = [p.submit(wait_for_file, gate, i) for i in range(4)]
    p.shutdown(wait=False)
    assert not any(f.done() for f in futures)  # it did not wait for the gated work
    Path(gate).touch()
    assert [f.result(RESULT_TIMEOUT_S) for f in futures] == [0, 1, 2, 3]
    p.shutdown(wait=True)
    assert p.status == "closed"


def test_shutdown_cancel_futures_cancels_what_has_not_started(tmp_path: Path) -> None:
    gate = str(tmp_path / "gate")
    p = Pool(2)
    assert p.map(square, range(4), chunksize=1) == [0, 1, 4, 9]  # workers up and ready
    futures = [p.submit(wait_for_file, gate, i) for i in range(12)]
    p.shutdown(wait=False, cancel_futures=True)
    Path(gate).touch()
    p.shutdown(wait=True)
    cancelled = [f for f in futures if f.cancelled()]
    done = [f for f in futures if not f.cancelled()]
    # At most 2 tasks per worker were sent before the shutdown; the rest never ran.
    assert len(cancelled) >= 12 - 2 * 2
    assert all(f.result(0) == futures.index(f) for f in done)
    for f in cancelled:
        with pytest.raises(CancelledError):
            f.result(0)


def test_keyboard_interrupt_cancels_the_call_and_the_pool_stays_usable(tmp_path: Path) -> None:
    gate = str(tmp_path / "gate")
    with Pool(2) as p, subscribe(**_conn(p)) as sub:
        _wait_for_kind(sub, "snapshot")

        def interrupt_when_running() -> None:
            _wait_for_kind(sub, "task.processing")
            _thread.interrupt_main()  # what Ctrl-C / the notebook's interrupt does

        helper = threading.Thread(target=interrupt_when_running)
        helper.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                p.map(wait_for_file, [gate] * 6, chunksize=1)
        finally:
            helper.join(RESULT_TIMEOUT_S)
            Path(gate).touch()
        events = _collect_until(sub, lambda e: e.kind == "call.ended")
        assert events[-1].body["status"] == "interrupted"
        assert p.status == "interrupted"
        assert p.map(square, range(5)) == [0, 1, 4, 9, 16]
        assert p.status == "running"  # new work: no longer shown as interrupted


# ------------------------------------------------------------------ what can be sent
def test_lambda_closure_and_local_function_under_each_start_method(any_pool: Pool) -> None:
    k = 7
    offset = {"by": 100}

    def local_fn(x: int) -> int:  # defined in the test: pickled by value
        return x * k + offset["by"]

    def make_closure(m: int) -> Any:
        return lambda x: x * m

    assert any_pool.map(lambda x: x + k, range(10)) == [x + 7 for x in range(10)]
    assert any_pool.map(make_closure(3), range(10)) == [3 * x for x in range(10)]
    assert list(any_pool.imap(local_fn, range(10))) == [7 * x + 100 for x in range(10)]
    assert sorted(any_pool.imap_unordered(local_fn, range(5))) == [100, 107, 114, 121, 128]
    assert any_pool.starmap(lambda a, b: a * b, [(2, 3), (4, 5)]) == [6, 20]
    assert any_pool.submit(lambda: k * 6).result(RESULT_TIMEOUT_S) == 42
    assert any_pool.apply(local_fn, 1) == 107
    assert any_pool.map(square, range(5)) == [0, 1, 4, 9, 16]  # module-level, by reference


def test_initializer_and_initargs_run_in_every_worker() -> None:
    with Pool(2, initializer=set_env_from_initializer,
              initargs=("TASKSCOPE_TEST_INIT", "hello")) as p:
        got = p.map(read_env, ["TASKSCOPE_TEST_INIT"] * 40, chunksize=1)
    assert {value for value, _ in got} == {"hello"}
    assert "TASKSCOPE_TEST_INIT" not in os.environ  # it ran in the workers, not here


def test_worker_state_is_a_copy_per_worker_passed_first() -> None:
    state = {"n": 0, "tag": None}
    with Pool(2, worker_state=state, initializer=init_state, initargs=("from-init",)) as p:
        got = p.map(count_in_state, range(60), chunksize=1)
        got += [p.apply(count_in_state, 99)]
    assert state == {"n": 0, "tag": None}  # the caller's object is untouched
    assert [x for *_, x in got] == [*range(60), 99]
    assert {tag for _, _, tag, _ in got} == {"from-init"}
    per_worker: dict[int, list[int]] = collections.defaultdict(list)
    for pid, n, _, _ in got:
        per_worker[pid].append(n)
    assert 1 <= len(per_worker) <= 2
    for counts in per_worker.values():  # each worker counts from 1 on its own copy
        assert sorted(counts) == list(range(1, len(counts) + 1))


def test_max_tasks_per_worker_recycles_workers() -> None:
    with Pool(2, max_tasks_per_worker=2) as p:
        got = p.map(with_pid, range(12), chunksize=1)
        assert [x for x, _ in got] == list(range(12))
        per_pid = collections.Counter(pid for _, pid in got)
        assert max(per_pid.values()) <= 2
        assert len(per_pid) >= 6
        more = p.map(with_pid, range(12))  # adaptive chunks are capped by the budget too
        assert [x for x, _ in more] == list(range(12))
        assert max(collections.Counter(pid for _, pid in more).values()) <= 2
        assert not set(pid for _, pid in more) & set(per_pid)


@pytest.mark.slow
def test_huge_lazy_input_keeps_the_driver_memory_flat() -> None:
    """10 million items through imap (2 million unless TASKSCOPE_FULL=1), RSS measured."""
    n = 10_000_000 if FULL else 2_000_000
    me = psutil.Process()
    read = [0]
    with Pool(2) as p:
        assert p.map(identity, range(10)) == list(range(10))  # warm: sockets, workers, imports
        base = me.memory_info().rss
        peak = base
        consumed = 0
        started = time.monotonic()
        for i, value in enumerate(p.imap(identity, _counting(n, read))):
            if i == 0:
                assert read[0] < n // 2, "imap read its whole input before the first result"
            if value != i:
                pytest.fail(f"result {i} is {value!r}")
            consumed += 1
            if i % (n // 20) == 0:
                peak = max(peak, me.memory_info().rss)
        took = time.monotonic() - started
        peak = max(peak, me.memory_info().rss)
        assert consumed == n
        growth_mb = (peak - base) / 2**20
        assert growth_mb < 50, f"driver RSS grew by {growth_mb:.1f} MB over {n:,} items"
        assert took < 60, f"{n:,} trivial items took {took:.1f} s"
        got = sum(1 for _ in p.imap_unordered(identity, _counting(n // 10, read)))
        assert got == n // 10


# ------------------------------------------------------------------ failures
def test_task_exception_is_reraised_with_remote_traceback_and_note(pool: Pool) -> None:
    with pytest.raises(ValueError) as info:
        pool.map(fail_on_13, range(40), chunksize=4)
    exc = info.value
    assert type(exc) is ValueError and str(exc) == "bad value 13"  # the task's own exception
    assert isinstance(exc.__cause__, RemoteTraceback)
    remote = str(exc.__cause__)
    assert "Traceback (most recent call last)" in remote
    assert "in fail_on_13" in remote and "ValueError: bad value 13" in remote
    assert 'raise ValueError(f"bad value {x}")' in remote  # the worker's source line
    notes = getattr(exc, "__notes__", [])
    assert len(notes) == 1
    assert "fail_on_13(13)" in notes[0] and "item 13" in notes[0]
    # the pool keeps working
    assert pool.map(fail_on_13, range(13)) == list(range(13))
    assert pool.apply(square, 4) == 16


def test_first_failing_item_wins_in_map(pool: Pool) -> None:
    def fail_on_odd_over_5(x: int) -> int:
        if x > 5 and x % 2:
            raise KeyError(x)
        return x

    with pytest.raises(KeyError) as info:
        pool.map(fail_on_odd_over_5, range(100), chunksize=1)
    assert info.value.args == (7,)


def test_imap_yields_results_before_the_failure(pool: Pool) -> None:
    got = []
    with pytest.raises(ValueError, match="bad value 13"):
        for value in pool.imap(fail_on_13, range(30), chunksize=2):
            got.append(value)
    assert got == list(range(13))


def test_submit_failure_sets_the_future_exception(pool: Pool) -> None:
    future = pool.submit(fail_on_13, 13)
    exc = future.exception(RESULT_TIMEOUT_S)
    assert isinstance(exc, ValueError) and str(exc) == "bad value 13"
    assert isinstance(exc.__cause__, RemoteTraceback) and "in fail_on_13" in str(exc.__cause__)
    assert "fail_on_13(13)" in exc.__notes__[0]  # the arguments, as written
    with pytest.raises(ValueError, match="bad value 13"):
        pool.apply(fail_on_13, 13)
    assert pool.apply(fail_on_13, 12) == 12


def test_failed_task_reruns_locally(pool: Pool) -> None:
    with pytest.raises(ValueError):
        pool.map(fail_on_13, range(20))
    failure = pool.errors[-1]
    assert isinstance(failure, FailedTask)
    assert failure.fn_name == "fail_on_13" and failure.index == 13
    assert "in fail_on_13" in failure.traceback
    assert "fail_on_13" in repr(failure) and "bad value 13" in repr(failure)
    with pytest.raises(ValueError, match="bad value 13") as info:
        failure.rerun()
    assert info.value.__cause__ is None  # raised here, in this process: a local traceback
    assert info.tb is not None and any(
        entry.name == "fail_on_13" for entry in info.traceback)
    assert failure.rerun(12) == 12  # or on another input

    with pytest.raises(KeyError):
        pool.starmap(lambda a, b: {}[a + b], [(1, 2)])
    with pytest.raises(KeyError, match="3"):
        pool.errors[-1].rerun()


def test_exception_that_cannot_be_unpickled_fails_only_its_item(pool: Pool) -> None:
    with pytest.raises(TaskError, match="NeedsTwoArgs: 3 and 4") as info:
        pool.map(raise_unpicklable_exception, range(8), chunksize=8)
    assert "in raise_unpicklable_exception" in str(info.value.__cause__)
    got = []
    with pytest.raises(TaskError):
        for value in pool.imap(raise_unpicklable_exception, range(8), chunksize=8):
            got.append(value)
    assert got == [0, 1, 2]  # the items before it in its chunk were fine
    f = pool.submit(raise_unpicklable_exception, 3)
    assert isinstance(f.exception(RESULT_TIMEOUT_S), TaskError)


def test_result_that_cannot_be_unpickled_fails_its_chunk_clearly(pool: Pool) -> None:
    def return_unloadable(x: int) -> Any:
        return NeedsTwoArgs(x, x) if x == 1 else x

    with pytest.raises(SerializationError, match="could not be unpickled in the caller") as info:
        pool.map(return_unloadable, range(4), chunksize=2)
    assert isinstance(info.value.__context__, TypeError)
    assert "item 0 " in info.value.__notes__[0]  # the whole chunk fails (items 0 and 1)
    assert pool.map(return_unloadable, [0, 2, 3]) == [0, 2, 3]


def test_submitted_call_errors_show_the_arguments_as_written(pool: Pool) -> None:
    exc = pool.submit(add, 1, "x", c=None).exception(RESULT_TIMEOUT_S)
    assert isinstance(exc, TypeError)
    assert "add(1, 'x', c=None)" in exc.__notes__[0]


def test_exception_that_cannot_be_pickled_becomes_task_error(pool: Pool) -> None:
    def raise_with_lock(x: int) -> None:
        err = RuntimeError("holding a lock")
        err.lock = threading.Lock()  # type: ignore[attr-defined]
        raise err

    with pytest.raises(TaskError, match="RuntimeError: holding a lock") as info:
        pool.map(raise_with_lock, [1])
    assert "in raise_with_lock" in str(info.value.__cause__)


def test_unpicklable_item_fails_that_item_naming_it(pool: Pool) -> None:
    items = [1, 2, Unpicklable(), 4, 5]
    with pytest.raises(SerializationError) as info:
        pool.map(square, items, chunksize=2)
    text = str(info.value)
    assert "item 2 of the input" in text and "<Unpicklable thing>" in text
    assert "Unpicklable refuses to be pickled" in text
    got = []
    with pytest.raises(SerializationError, match="item 2 of the input"):
        for value in pool.imap(square, items):
            got.append(value)
    assert got == [1, 4]
    assert pool.map(square, [1, 2]) == [1, 4]


@pytest.mark.parametrize("chunksize", [3, 4, 5])
def test_unpicklable_item_inside_a_chunk_is_not_dropped(pool: Pool, chunksize: int) -> None:
    # The bad item third in its chunk: the items before it were sent, and the bad one was
    # lost with the rest put back (a map of 5 items returned 4 results and no error).
    with pytest.raises(SerializationError, match="item 2 of the input"):
        pool.map(square, [1, 2, Unpicklable(), 4, 5], chunksize=chunksize)
    assert pool.map(square, [1, 2, 3, 4, 5], chunksize=chunksize) == [1, 4, 9, 16, 25]


def test_unpicklable_result_fails_that_item_clearly(pool: Pool) -> None:
    with pytest.raises(SerializationError) as info:
        pool.map(return_a_lock, range(20), chunksize=5)
    exc = info.value
    text = str(exc)
    assert "cannot be pickled" in text and "_thread.lock" in text and "Return plain data" in text
    assert "item 2 " not in text  # no chunk-local index that contradicts the note
    assert "return_a_lock(12)" in exc.__notes__[0] and "item 12" in exc.__notes__[0]
    assert list(pool.imap(return_a_lock, range(12), chunksize=5)) == list(range(12))
    with pytest.raises(SerializationError, match="cannot be pickled"):
        pool.apply(return_a_lock, 12)


def _read_pid(path: Path) -> int:
    return int(path.read_text())


def test_worker_killed_mid_task_fails_that_task_and_is_replaced(tmp_path: Path) -> None:
    note = tmp_path / "pid"
    with Pool(2) as p:
        before = {pid for _, pid in p.map(with_pid, range(20), chunksize=1)}
        future = p.submit(kill_myself_after_noting_pid, str(note))
        exc = future.exception(RESULT_TIMEOUT_S)
        pid = _read_pid(note)
        assert isinstance(exc, WorkerDiedError)
        assert exc.pid == pid and exc.signal == signal.SIGKILL and exc.exitcode == -9
        assert f"pid {pid}" in str(exc) and "signal 9" in str(exc)
        assert "kill_myself_after_noting_pid" in str(exc) and "replaced" in str(exc)
        # The pool keeps two workers, one of them new, and gives right results.
        # (Tiny items travel many to a message: a live worker may run a whole short map
        # before the replacement is ready, so map again until the replacement took part.)
        deadline = time.monotonic() + RESULT_TIMEOUT_S
        after: set[int] = set()
        while not after - before and time.monotonic() < deadline:
            got = p.map(with_pid, range(40), chunksize=1)
            assert [x for x, _ in got] == list(range(40))
            after |= {pid for _, pid in got}
        assert pid not in after
        assert after - before  # a replacement worker served some of them
        assert p.apply(square, 9) == 81


def test_worker_killed_from_outside_fails_its_map_item(tmp_path: Path) -> None:
    gate, note = tmp_path / "gate", tmp_path / "pid"

    def note_pid_then_wait(x: int) -> int:
        if x == 2:
            note.write_text(str(os.getpid()))
            return wait_for_file(str(gate), x)
        return x

    with Pool(2) as p:
        results = p.imap(note_pid_then_wait, range(6), chunksize=1)
        assert [next(results), next(results)] == [0, 1]
        deadline = time.monotonic() + RESULT_TIMEOUT_S
        while not note.exists() or not note.read_text():  # the task announces itself
            assert time.monotonic() < deadline, "item 2 never started"
            time.sleep(0.01)
        victim = _read_pid(note)
        os.kill(victim, signal.SIGTERM)
        with pytest.raises(WorkerDiedError) as info:
            next(results)
        assert info.value.pid == victim and info.value.signal == signal.SIGTERM
        assert f"pid {victim}" in str(info.value) and "signal 15" in str(info.value)
        assert p.map(square, range(6)) == [0, 1, 4, 9, 16, 25]


def test_initializer_failure_breaks_the_pool_clearly() -> None:
    p = Pool(2, initializer=failing_initializer)
    try:
        with pytest.raises(PoolBrokenError, match=r"initializer failed.*RuntimeError: no database") as info:
            p.apply(square, 2)
        assert "in failing_initializer" in str(info.value.__cause__)
        with pytest.raises(PoolClosedError, match="broken"):
            p.map(square, [1])
    finally:
        p.shutdown()


# ------------------------------------------------------------------ bad input, before any work
def test_bad_pool_arguments_raise_before_any_process_starts() -> None:
    me = psutil.Process()
    before = set(me.children(recursive=True))
    for n, exc in [(0, ValueError), (-1, ValueError), ("2", ValueError), (2.0, ValueError),
                   (True, ValueError)]:
        with pytest.raises(exc, match=rf"n_workers must be an int >= 1, not {n!r}"):
            Pool(n)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"start_method 'threads' is not available.*forkserver"):
        Pool(2, start_method="threads")
    with pytest.raises(TypeError, match="initializer must be callable, got int"):
        Pool(2, initializer=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_tasks_per_worker must be an int >= 1"):
        Pool(2, max_tasks_per_worker=0)
    with pytest.raises(SerializationError, match="initializer, initargs or worker_state"):
        Pool(2, initargs=(threading.Lock(),), initializer=print)
    with pytest.raises(SerializationError, match="initializer, initargs or worker_state"):
        Pool(2, worker_state={"lock": threading.Lock()})
    new = [p for p in me.children(recursive=True) if p not in before
           and "forkserver" not in " ".join(p.cmdline())]
    assert new == []


def test_bad_call_arguments_raise_before_any_work_starts(pool: Pool) -> None:
    read = [0]
    lock = threading.Lock()
    holds_a_lock = lambda x: (lock, x)  # noqa: E731

    with pytest.raises(TypeError, match=r"map\(\) needs a callable.*got int 5"):
        pool.map(5, _counting(10, read))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"imap\(\) needs a callable.*got list"):
        pool.imap([1, 2], range(3))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"submit\(\) needs a callable.*got str 'square'"):
        pool.submit("square", 2)  # type: ignore[arg-type]
    with pytest.raises(SerializationError, match=r"cannot pickle the function '.*<lambda>'.*_thread.lock"):
        pool.map(holds_a_lock, _counting(10, read))
    with pytest.raises(SerializationError, match=r"cannot pickle the function '.*<lambda>'"):
        pool.submit(holds_a_lock, 1)
    with pytest.raises(SerializationError, match=r"cannot pickle argument 1 \(<unlocked _thread.lock"):
        pool.submit(add, 1, lock)
    with pytest.raises(SerializationError, match=r"cannot pickle keyword argument 'c'"):
        pool.apply(add, 1, 2, c=Unpicklable())
    with pytest.raises(TypeError, match=r"map\(\) needs an iterable of inputs, got int 5"):
        pool.map(square, 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"starmap\(\) needs an iterable"):
        pool.starmap(add, None)  # type: ignore[arg-type]
    for bad in (0, -3, 2.5, "10"):
        with pytest.raises(ValueError, match=r"chunksize must be a positive int or None"):
            pool.map(square, _counting(10, read), chunksize=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"chunksize must be a positive int or None"):
            pool.imap_unordered(square, _counting(10, read), chunksize=bad)  # type: ignore[arg-type]
    assert read == [0], "an input was read although the call was refused"
    assert pool._driver.calls == {}, "a refused call reached the driver"
    assert pool.map(square, range(3)) == [0, 1, 4]


def test_input_iterable_that_raises_fails_the_call(pool: Pool) -> None:
    def broken_input() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone") as info:
        pool.map(square, broken_input())
    assert any("input iterable" in note for note in info.value.__notes__)
    assert pool.map(square, [3]) == [9]


# ------------------------------------------------------------------ helpers (events)
def _conn(pool: Pool) -> dict[str, Any]:
    info = pool.connection_info()
    return {"endpoint": info["events"], "key": info["key"]}


def _collect_until(sub: Any, done: Any, timeout: float = RESULT_TIMEOUT_S) -> list[Any]:
    events: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ev in sub.recv(timeout=0.5):
            events.append(ev)
            if done(ev):
                return events
    raise AssertionError(f"timed out; got {[e.kind for e in events][-20:]}")


def _wait_for_kind(sub: Any, kind: str) -> Any:
    return _collect_until(sub, lambda e: e.kind == kind)[-1]


def _collect_until_call_ended(sub: Any) -> list[Any]:
    return _collect_until(sub, lambda e: e.kind == "call.ended")
