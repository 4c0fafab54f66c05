"""The task graph on real worker processes: dependencies, results kept on workers, release,
cancellation and failure cascades, retries, priorities, keys, killed workers, random DAGs.

Most tests share one module-scoped ``Pool(2)`` (starting pools is the slow part); tests that
kill workers or need one worker get their own pool (a replaced worker would otherwise count as
a leaked child process in tests/conftest.py). A subscriber thread feeds every event of the
shared pool into a `taskscope.state.State`; the last test checks its counts add up.
"""
from __future__ import annotations

import concurrent.futures as cf
import gc
import operator
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskscope.pool import Pool, TaskError, subscribe
from taskscope.state import State

FULL = os.environ.get("TASKSCOPE_FULL") == "1"
T = 60  # seconds: a result that takes longer means a hang


# ------------------------------------------------------------------ functions run by workers
def inc(x: int) -> int:
    return x + 1


def add(a: int, b: int) -> int:
    return a + b


def mul(a: int, b: int) -> int:
    return a * b


def neg(a: int) -> int:
    return -a


def total(xs: Any) -> int:
    return sum(xs)


def combine(items: list[Any], pair: tuple[Any, Any], mapping: dict[str, Any], *, k: Any = 0,
            extra: Any = None) -> Any:
    return [items, pair, mapping, k, extra]


def fail(x: Any) -> Any:
    raise ValueError(f"upstream broke on {x!r}")


def wait_for_file(path: str, value: Any = None) -> Any:
    deadline = time.monotonic() + T
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.005)
    return value


def stamp(tag: Any) -> tuple[Any, int]:
    return tag, time.perf_counter_ns()


def flaky(counter: str, fails: int) -> int:
    """Fails `fails` times (counted in a file), then returns the attempt number."""
    n = int(Path(counter).read_text()) if os.path.exists(counter) else 0
    Path(counter).write_text(str(n + 1))
    if n < fails:
        raise RuntimeError(f"attempt {n} fails")
    return n


def big_block(n_bytes: int, fill: int = 1) -> bytearray:
    """A result whose pages are all touched (so RSS sees them) and returned to the OS when
    freed (a bytearray this big is one mmap)."""
    return bytearray([fill]) * n_bytes


def big_part(i: int) -> bytes:
    return bytes([i % 256]) * 100_000  # over 64 KiB: kept on its worker only


def sum_parts(*parts: Any) -> int:
    return sum(p[0] + len(p) for p in parts)


def die_once(flag: str, *parts: Any) -> int:
    """SIGKILLs its own worker the first time (the flag file marks that it happened)."""
    if not os.path.exists(flag):
        Path(flag).write_text("killed")
        os.kill(os.getpid(), signal.SIGKILL)
    return sum(p[0] for p in parts)


def getpid(*_: Any) -> int:
    return os.getpid()


# ------------------------------------------------------------------ fixtures
class StateFeed:
    """Applies every event of a pool to a State, in a thread."""

    def __init__(self, pool: Pool) -> None:
        info = pool.connection_info()
        self.sub = subscribe(info["events"], info["key"])
        self.state = State()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            events = self.sub.recv(timeout=0.05)
            with self.lock:
                self.state.apply_all(events)

    def settled_calls(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The submit rows once every task ended (waiting for the event batches to arrive)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                calls = [c for c in self.state.to_json()["calls"] if c["api"] == "submit"]
            busy = [c for c in calls if any(c["counts"][k] for k in ("waiting", "queued",
                                                                        "processing"))]
            if (calls and not busy) or time.monotonic() > deadline:
                return calls
            time.sleep(0.1)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sub.close()


@pytest.fixture(scope="module")
def pool_and_feed() -> Any:
    pool = Pool(2, name="graph-tests")
    feed = StateFeed(pool)
    yield pool, feed
    pool.shutdown()
    feed.close()


@pytest.fixture
def pool(pool_and_feed: Any) -> Pool:
    return pool_and_feed[0]


def _managed(pool: Pool) -> dict[int, int]:
    return {wid: w.managed for wid, w in pool._driver.workers.items()}


def _wait_until(cond: Any, timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


# ------------------------------------------------------------------ shapes
def test_diamond(pool: Pool) -> None:
    a = pool.submit(inc, 1)
    b, c = pool.submit(inc, a), pool.submit(mul, a, 10)
    d = pool.submit(add, b, c)
    assert d.result(timeout=T) == 3 + 20
    assert a.result(timeout=T) == 2 and b.result() == 3 and c.result() == 20


def test_many_diamonds_sharing_one_root(pool: Pool) -> None:
    root = pool.submit(inc, 0)
    tips = [pool.submit(add, pool.submit(inc, root), pool.submit(mul, root, i)) for i in range(50)]
    assert pool.gather(tips) == [2 + i for i in range(50)]


@pytest.mark.slow
def test_long_chain(pool: Pool) -> None:
    n = 10_000
    fut = pool.submit(inc, 0)
    for _ in range(n - 1):
        fut = pool.submit(inc, fut)
    assert fut.result(timeout=T) == n
    del fut
    gc.collect()  # dropping the end of the chain drops it all (no recursion in the driver)
    assert pool.submit(inc, 1).result(timeout=T) == 2
    _wait_until(lambda: len(pool._driver.graph) < 100, what="the chain's records to go")


@pytest.mark.slow
def test_tree_reduction_of_10000_leaves(pool: Pool) -> None:
    level = [pool.submit(inc, i) for i in range(10_000)]
    while len(level) > 1:
        level = [pool.submit(add, level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    assert level[0].result(timeout=T) == sum(range(1, 10_001))


def test_sum_of_a_thousand_futures(pool: Pool) -> None:
    assert pool.submit(sum, [pool.submit(inc, i) for i in range(1000)]).result(timeout=T) \
        == sum(range(1, 1001))


def test_nested_container_dependencies(pool: Pool) -> None:
    a, b, c, d = (pool.submit(inc, i) for i in range(4))
    out = pool.submit(combine, [a, [b, 5]], (c, "x"), {"d": d, "deep": {"l": [a, (b,)]}},
                      k=c, extra={"t": (d, [a])})
    assert out.result(timeout=T) == [[1, [2, 5]], (3, "x"), {"d": 4, "deep": {"l": [1, (2,)]}},
                                     3, {"t": (4, [1])}]
    # containers without futures travel unchanged; the same future twice is one dependency
    assert pool.submit(total, [a, a, a]).result(timeout=T) == 3
    assert pool.submit(total, (1, 2)).result(timeout=T) == 3


def test_futures_of_another_pool_are_refused(pool: Pool) -> None:
    with pytest.raises(ValueError, match="another pool"):
        pool.submit(inc, cf.Future())


# ------------------------------------------------------------------ stdlib helpers, keys
def test_wait_and_as_completed(pool: Pool, tmp_path: Path) -> None:
    gate = str(tmp_path / "gate")
    quick = [pool.submit(inc, i) for i in range(5)]
    slow = pool.submit(wait_for_file, gate, "slow")
    done, not_done = cf.wait([*quick, slow], timeout=T, return_when=cf.FIRST_COMPLETED)
    assert done and slow in not_done
    done, not_done = cf.wait(quick, timeout=T)
    assert not not_done
    Path(gate).touch()
    after = pool.submit(stamp, slow)
    seen = [f.result() for f in cf.as_completed([*quick, slow, after], timeout=T)]
    assert sorted(map(str, seen[:-2])) == ["1", "2", "3", "4", "5"] or len(seen) == 7
    assert sorted(map(str, seen)) == sorted(map(str, [1, 2, 3, 4, 5, "slow", after.result()]))
    assert after.result()[0] == "slow"


def test_key_and_get_future(pool: Pool) -> None:
    fut = pool.submit(inc, 41, key="the-answer")
    assert fut.key == "the-answer"
    assert pool.get_future("the-answer") is fut
    assert pool.submit(inc, fut, key="after").result(timeout=T) == 43
    assert "the-answer" in repr(fut)
    anon = pool.submit(inc, 1)
    assert anon.key.startswith("inc-") and pool.get_future(anon.key) is anon
    del fut
    gc.collect()
    assert pool.get_future("the-answer") is None


# ------------------------------------------------------------------ failures, cancel
def test_failure_fails_dependents_naming_the_upstream_task(pool: Pool) -> None:
    bad = pool.submit(fail, 7, key="bad-root")
    mid = pool.submit(inc, bad, key="mid")
    tip = pool.submit(add, mid, 1, key="tip")
    with pytest.raises(ValueError, match="upstream broke on 7"):
        bad.result(timeout=T)
    with pytest.raises(TaskError, match="'bad-root' failed") as info:
        mid.result(timeout=T)
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(TaskError, match=r"'mid'.*'bad-root'") as info:
        tip.result(timeout=T)
    assert isinstance(info.value.__cause__, ValueError)
    # submitted after the failure: fails at once, the same way
    with pytest.raises(TaskError, match="'bad-root'"):
        pool.submit(inc, bad).result(timeout=T)


@pytest.mark.slow
def test_failure_at_the_head_of_a_long_chain(pool: Pool) -> None:
    head = pool.submit(fail, 0, key="chain-head")
    fut = head
    for _ in range(3_000):
        fut = pool.submit(inc, fut)
    with pytest.raises(TaskError, match="chain-head") as info:
        fut.result(timeout=T)
    assert len(str(info.value)) < 2000  # the message does not grow with the chain
    assert isinstance(info.value.__cause__, ValueError)


def test_cancel_cascades(pool: Pool, tmp_path: Path) -> None:
    gate = str(tmp_path / "gate")
    blocker = pool.submit(wait_for_file, gate, 1)
    up = pool.submit(inc, blocker)  # waiting on blocker
    mid = pool.submit(inc, up)
    tip = pool.submit(add, mid, pool.submit(inc, 1))
    other = pool.submit(inc, blocker)
    assert up.cancel()
    Path(gate).touch()
    assert other.result(timeout=T) == 2
    for fut in (mid, tip):
        with pytest.raises(cf.CancelledError):
            fut.result(timeout=T)
        assert fut.cancelled()
    assert not mid.cancel() or mid.cancelled()
    chain = pool.submit(inc, up)  # depending on a cancelled task: cancelled at once
    with pytest.raises(cf.CancelledError):
        chain.result(timeout=T)
    assert not blocker.cancel()  # done: too late


@pytest.mark.slow
def test_cancel_the_head_of_a_long_chain(pool: Pool, tmp_path: Path) -> None:
    gate = str(tmp_path / "gate")
    blocker = pool.submit(wait_for_file, gate, 0)
    head = pool.submit(inc, blocker)
    fut = head
    for _ in range(3_000):
        fut = pool.submit(inc, fut)
    assert head.cancel()
    Path(gate).touch()
    with pytest.raises(cf.CancelledError):
        fut.result(timeout=T)


# ------------------------------------------------------------------ retries, priority
def test_retries(pool: Pool, tmp_path: Path) -> None:
    counter = str(tmp_path / "count")
    assert pool.submit(flaky, counter, 2, retries=2).result(timeout=T) == 2
    assert Path(counter).read_text() == "3"
    counter2 = str(tmp_path / "count2")
    with pytest.raises(RuntimeError, match="attempt 1 fails"):
        pool.submit(flaky, counter2, 2, retries=1).result(timeout=T)
    # a retried task's dependents get its final value
    counter3 = str(tmp_path / "count3")
    assert pool.submit(inc, pool.submit(flaky, counter3, 1, retries=1)).result(timeout=T) == 2


def test_priority_orders_ready_tasks(tmp_path: Path) -> None:
    gate = str(tmp_path / "gate")
    with Pool(1) as pool:
        # occupy the worker and its prefetch slot, so the rest waits in the driver's queue
        blockers = [pool.submit(wait_for_file, gate, i) for i in range(2)]
        _wait_until(lambda: sum(len(w.inflight) for w in pool._driver.workers.values()) == 2,
                    timeout=T, what="the worker to be busy")
        prios = [3, -1, 7, 0, 5, 2, -4, 9, 1, 6]
        futs = [pool.submit(stamp, p, priority=p) for p in prios]
        time.sleep(0.1)
        Path(gate).touch()
        order = [tag for tag, _ in sorted((f.result(timeout=T) for f in futs),
                                          key=operator.itemgetter(1))]
        assert order == sorted(prios, reverse=True)
        assert [b.result(timeout=T) for b in blockers] == [0, 1]


# ------------------------------------------------------------------ memory
def test_release_frees_worker_memory(pool: Pool, capsys: Any) -> None:
    n_bytes = 50 * 2**20
    fut = pool.submit(big_block, n_bytes)
    cf.wait([fut], timeout=T)  # done; its value stays on the worker
    driver = pool._driver
    holder = next(w for w in driver.workers.values() if w.managed >= n_bytes)
    proc = psutil.Process(holder.pid)
    rss_held, managed_held = proc.memory_info().rss, holder.managed
    assert fut.result(timeout=T)[:3] == bytearray(b"\x01\x01\x01")  # fetched once
    del fut
    gc.collect()
    driver.wake()
    _wait_until(lambda: holder.managed == 0, what="the driver to release the result")
    deadline = time.monotonic() + 10
    while proc.memory_info().rss > rss_held - 0.8 * n_bytes and time.monotonic() < deadline:
        time.sleep(0.05)
    rss_after = proc.memory_info().rss
    with capsys.disabled():
        print(f"\n[release] worker {holder.id}: managed {managed_held / 2**20:.1f} MiB -> "
              f"{holder.managed} B; RSS {rss_held / 2**20:.1f} MiB -> {rss_after / 2**20:.1f} MiB")
    assert managed_held >= n_bytes
    assert rss_held - rss_after >= 0.8 * n_bytes, (rss_held, rss_after)


def test_results_move_between_workers(pool: Pool) -> None:
    parts = [pool.submit(big_part, i) for i in range(8)]  # kept on both workers
    cf.wait(parts, timeout=T)
    holders = {next(iter(pool._driver.graph[p.task_id].holders)) for p in parts}
    assert len(holders) >= 1
    assert pool.submit(sum_parts, *parts).result(timeout=T) == sum(i + 100_000 for i in range(8))


# ------------------------------------------------------------------ dead workers
def test_worker_killed_mid_graph_recomputes_lost_results(tmp_path: Path) -> None:
    flag = str(tmp_path / "killed")
    with Pool(2) as pool:
        parts = [pool.submit(big_part, i) for i in range(6)]  # results only on the workers
        firsts = [pool.submit(sum_parts, parts[i], parts[i + 1]) for i in range(0, 6, 2)]
        killer = pool.submit(die_once, flag, *parts, retries=1)  # kills its worker once
        tip = pool.submit(add, pool.submit(total, firsts), killer)
        expected = sum(i + 100_000 for i in range(6)) + sum(range(6))
        assert tip.result(timeout=T) == expected
        assert Path(flag).exists()
        assert [p.result(timeout=T)[0] for p in parts] == list(range(6))


def test_killing_the_worker_holding_results(tmp_path: Path) -> None:
    with Pool(2) as pool:
        parts = [pool.submit(big_part, i) for i in range(6)]
        cf.wait(parts, timeout=T)
        victim = next(iter(pool._driver.graph[parts[0].task_id].holders))
        pid = pool._driver.workers[victim].pid
        os.kill(pid, signal.SIGKILL)
        _wait_until(lambda: victim not in pool._driver.workers, what="the death to be seen")
        out = pool.submit(sum_parts, *parts)
        assert out.result(timeout=T) == sum(i + 100_000 for i in range(6))
        assert [p.result(timeout=T)[0] for p in parts] == list(range(6))


# ------------------------------------------------------------------ random DAGs
OPS = {"add": operator.add, "mul": operator.mul, "neg": operator.neg, "sum": sum}


def _evaluate_serially(nodes: list[tuple[str, list[Any]]]) -> list[int]:
    values: list[int] = []
    for op, args in nodes:
        vals = [[values[j] for j in a] if isinstance(a, list) else
                (values[a] if isinstance(a, int) else a[1]) for a in args]
        values.append(OPS[op](*vals))
    return values


@st.composite
def dags(draw: Any) -> list[tuple[str, list[Any]]]:
    n = draw(st.integers(1, 30))
    nodes: list[tuple[str, list[Any]]] = []
    for i in range(n):
        def arg(i: int = i) -> Any:
            if i == 0 or (draw(st.booleans()) and draw(st.booleans())):
                return ("const", draw(st.integers(-5, 5)))
            return draw(st.integers(0, i - 1))  # an edge to an earlier node
        op = draw(st.sampled_from(["add", "mul", "neg", "sum"]))
        if op == "neg":
            args = [arg()]
        elif op == "sum":
            args = [draw(st.lists(st.integers(0, i - 1), max_size=4)) if i else []]
        else:
            args = [arg(), arg()]
        nodes.append((op, args))
    return nodes


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(nodes=dags())
def test_random_dags_match_serial_evaluation(pool: Pool, nodes: list[tuple[str, list[Any]]]) -> None:
    futs: list[Any] = []
    for op, args in nodes:
        real = [[futs[j] for j in a] if isinstance(a, list) else
                (futs[a] if isinstance(a, int) else a[1]) for a in args]
        futs.append(pool.submit(OPS[op], *real))
    assert pool.gather(futs) == _evaluate_serially(nodes)


# ------------------------------------------------------------------ the State (run last)
def test_zz_state_counts_add_up(pool_and_feed: Any) -> None:
    pool, feed = pool_and_feed
    assert pool.submit(inc, pool.submit(inc, 0)).result(timeout=T) == 2
    gc.collect()
    calls = feed.settled_calls()
    assert calls, "no submit rows in the State"
    for call in calls:
        c = call["counts"]
        assert c["memory"] + c["released"] + c["erred"] + c["cancelled"] == call["submitted"], call
        assert c["waiting"] == c["queued"] == c["processing"] == 0, call
        assert call["total"] == call["submitted"], call
    by_fn = {c["fn"]: c for c in calls}
    assert by_fn["fail"]["counts"]["erred"] >= 2
    assert by_fn["inc"]["counts"]["cancelled"] >= 3001  # the cancelled chain and its head
    assert by_fn["inc"]["counts"]["erred"] >= 3001  # the failed chain
    assert feed.state.gaps == 0
