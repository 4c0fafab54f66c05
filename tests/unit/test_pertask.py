"""The per-task path's cheap parts (issue 13): the stdlib pickle fast path for submit, the
lighter Future, the Task's shared empty containers. The pool-level guarantees (results,
errors, retries, faults) are the integration tests'; these pin what makes the path cheap."""
from __future__ import annotations

import gc
import pickle
import threading
import time
from concurrent.futures import FIRST_COMPLETED, as_completed, wait

import cloudpickle
import pytest

from taskscope.pool import _pickle
from taskscope.pool._deps import Dep
from taskscope.pool.calls import Call, Task
from taskscope.pool.chunking import ChunkSizer
from taskscope.pool.futures import TaskFuture


class _Owner:
    """What a Future needs of its pool to be made: the lock all its Futures share."""

    def __init__(self) -> None:
        self._future_lock = threading.RLock()


_OWNER = _Owner()


def _tracked_objects_made(make) -> float:
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        kept = [make() for _ in range(200)]
        after = len(gc.get_objects())
    finally:
        gc.enable()
    return (after - before - 1) / len(kept)


@pytest.mark.parametrize("args,kwargs", [
    ((1,), {}), ((1.5, "x", b"y", None, True, 2j), {"k": 3}), ((Dep(7), 2), {}), ((), {})])
def test_plain_calls_pickle_exactly_as_cloudpickle_does(args, kwargs) -> None:
    frames = _pickle.dumps_plain_args(cloudpickle.dumps, args, kwargs)  # an importable function
    assert frames is not None  # (its function travels apart: a reference, as cloudpickle's)
    assert frames == (cloudpickle.dumps([(args, kwargs)], protocol=5),)
    assert _pickle.dumps(cloudpickle.dumps) == [pickle.dumps(cloudpickle.dumps, protocol=5)]
    [(got_args, got_kwargs)] = pickle.loads(frames[0])
    assert got_kwargs == kwargs
    assert [a.task if isinstance(a, Dep) else a for a in got_args] == \
        [a.task if isinstance(a, Dep) else a for a in args]


def test_what_only_cloudpickle_pickles_right_takes_the_usual_path() -> None:
    def local(x):  # a closure: pickled by value
        return x

    assert _pickle.dumps_plain_args(local, (1,), {}) is None
    assert _pickle.dumps_plain_args(lambda x: x, (1,), {}) is None
    assert _pickle.dumps_plain_args(cloudpickle.dumps, ([1, 2],), {}) is None  # a list argument
    assert _pickle.dumps_plain_args(cloudpickle.dumps, (), {"k": object()}) is None
    assert _pickle.dumps_plain_args(len, (1,), {}) is None  # a builtin: not a plain function
    assert _pickle.dumps_plain_args("x".upper, (), {}) is None  # a bound method


def test_a_function_of_a_module_pickled_by_value_takes_the_usual_path(tmp_path, monkeypatch) -> None:
    (tmp_path / "byvalue_mod_13.py").write_text("def f(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import byvalue_mod_13

    cloudpickle.register_pickle_by_value(byvalue_mod_13)
    try:
        assert _pickle.dumps_plain_args(byvalue_mod_13.f, (1,), {}) is None
    finally:
        cloudpickle.unregister_pickle_by_value(byvalue_mod_13)


def test_a_task_future_is_one_garbage_collected_object() -> None:
    # The collector's passes over the live Futures of a burst of submits cost more than
    # making them; the stdlib's Future is 11 tracked objects.
    assert _tracked_objects_made(lambda: TaskFuture(_OWNER, 1, "k")) == 1


def test_a_tiny_task_shares_its_empty_containers() -> None:
    call = Call(1, "submit", "call", {"fn": "f"}, fn_frames=None, source=None, total=0,
                sizer=ChunkSizer(2, None), results=None, fail_fast=False)
    assert _tracked_objects_made(lambda: Task(1, call, 0, 1, [b"x"], key="k")) <= 2
    a, b = Task(1, call, 0, 1, []), Task(2, call, 0, 1, [])
    assert a.holders is b.holders and not a.holders and a.dependents == () and a.deps == ()


def test_the_lighter_condition_waits_notifies_and_times_out() -> None:
    fut = TaskFuture(_OWNER, 1, "k")
    threading.Timer(0.05, fut.set_result, (5,)).start()
    assert fut.result(timeout=5) == 5
    slow = TaskFuture(_OWNER, 2, "k2")
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        slow.result(timeout=0.05)
    assert time.monotonic() - t0 >= 0.04
    futs = [TaskFuture(_OWNER, i, f"k{i}") for i in range(3)]
    for i, f in enumerate(futs):
        threading.Timer(0.02 * (i + 1), f.set_result, (i,)).start()
    assert sorted(f.result() for f in as_completed(futs, timeout=5)) == [0, 1, 2]
    one = TaskFuture(_OWNER, 9, "k9")
    threading.Timer(0.02, one.set_exception, (ValueError("boom"),)).start()
    done, _ = wait([one, TaskFuture(_OWNER, 10, "never")], timeout=5, return_when=FIRST_COMPLETED)
    assert done == {one} and isinstance(one.exception(), ValueError)
    calls = []
    fut2 = TaskFuture(_OWNER, 11, "k11")
    fut2.add_done_callback(lambda f: calls.append(f.result()))
    fut2.set_result(3)
    assert calls == [3]


def test_futures_sharing_a_lock_wake_only_for_their_own_end() -> None:
    """One lock for all of a pool's Futures: a result() blocked on one Future must sleep
    through the others ending (a spurious wake-up would raise TimeoutError with no timeout),
    be cancellable, and several threads may wait on one Future."""
    owner = _Owner()
    mine, others = TaskFuture(owner, 1), [TaskFuture(owner, i) for i in range(2, 12)]
    got: list[object] = []
    waiters = [threading.Thread(target=lambda: got.append(mine.result())) for _ in range(3)]
    for t in waiters:
        t.start()
    for i, f in enumerate(others):
        f.set_result(i)  # each ends under the same lock, and wakes nobody waiting on `mine`
        time.sleep(0.005)
    assert got == [] and all(t.is_alive() for t in waiters)
    mine.set_result("mine")
    for t in waiters:
        t.join(5)
    assert got == ["mine"] * 3
    assert mine.key == "-1" and TaskFuture(owner, 7, fn_name="f").key == "f-7"
    pending = TaskFuture(owner, 13)
    threading.Timer(0.02, pending.cancel).start()
    with pytest.raises(Exception) as info:  # CancelledError
        pending.result(timeout=5)
    assert type(info.value).__name__ == "CancelledError"
    assert not owner._future_lock._is_owned()


@pytest.mark.parametrize("chunk", [[1], [1.5, "x", b"y", None, True, 2j], [Dep(3)]])
def test_small_plain_chunks_pickle_exactly_as_cloudpickle_does(chunk) -> None:
    assert _pickle.dumps(chunk) == [cloudpickle.dumps(chunk, protocol=5)]


def test_other_chunks_keep_cloudpickle() -> None:
    def local(x):
        return x

    frames = _pickle.dumps([local])
    assert pickle.loads(frames[0])[0](4) == 4  # pickled by value: a closure
    big = list(range(100))  # past the small-list fast path: the same bytes either way
    assert pickle.loads(_pickle.dumps(big)[0]) == big


def test_an_ordered_call_never_ends_with_a_silent_hole() -> None:
    """Results that end with a gap before later chunks, with no item failed, are a driver
    bug: the reader gets a loud error instead of a short list."""
    from taskscope.pool.calls import CallResults
    from taskscope.pool.errors import TaskscopeError

    results = CallResults(ordered=True)
    results.put(0, [0, 1], {})
    results.put(4, [16], {})  # items 2-3 never arrived
    results.finish()
    with pytest.raises(TaskscopeError, match="from item 2 to 3"):
        list(results.iter_chunks())
    # After a failure the chunks not yet run were cancelled: the gap is expected there.
    failed = CallResults(ordered=True)
    failed.put(0, [None], {0: ValueError("x")})
    failed.put(3, [9], {})
    failed.finish()
    assert [k for k, _, _ in failed.iter_chunks()] == [0]
