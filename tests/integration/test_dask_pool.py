"""`Pool(cluster=...)` on a real Dask LocalCluster: the Pool API, errors, cancelling, killed
workers, shutdown, bad input, and the taskscope events a subscriber sees.

One module-scoped cluster (2 worker processes, 1 thread each, everything on 127.0.0.1) keeps
the suite short; the test that kills a worker gets a cluster of its own (the worker Dask's
nanny starts in its place would otherwise count as a leaked child in tests/conftest.py).
Every test's events are also fed into a real `taskscope.state.State` by a subscriber thread.
"""
from __future__ import annotations

import _thread
import asyncio
import concurrent.futures as cf
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from distributed import Client, LocalCluster

from taskscope.pool import (
    Pool,
    PoolClosedError,
    SerializationError,
    TaskCancelledError,
    TaskError,
    subscribe,
)
from taskscope.pool.dask_connect import check_version
from taskscope.pool.dask_pool import RUNNING_NOTE, DaskPool
from taskscope.pool.errors import RemoteTraceback
from taskscope.state import State

T = 60  # seconds: a result that takes longer means a hang


def cluster_kwargs(n_workers: int = 2) -> dict[str, Any]:
    # dashboard_address="127.0.0.1:0": None would still listen on port 8787 (all loopback).
    return dict(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0")


# ------------------------------------------------------------------ functions run on Dask workers
def square(x: int) -> int:
    return x * x


def fail_on_7(x: int) -> int:
    if x == 7:
        raise ValueError(f"bad item {x}")
    return x


def nap(x: float) -> float:
    time.sleep(x)
    return x


def make_lock(x: int) -> Any:
    return threading.Lock() if x == 2 else x


def worker_pid(_: Any = None) -> int:
    return os.getpid()


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module", autouse=True)
def _private_runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Pools register in the Jupyter runtime dir: a private one, not the user's."""
    path = tmp_path_factory.mktemp("runtime")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_RUNTIME_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def cluster(_private_runtime_dir: Path) -> Iterator[LocalCluster]:
    with LocalCluster(**cluster_kwargs()) as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster: LocalCluster) -> Iterator[Client]:
    with Client(cluster, set_as_default=False) as c:
        c.wait_for_workers(2, timeout=T)
        yield c


class Recorder:
    """Every event of a pool, in order, and the State built from them (as a dashboard's)."""

    def __init__(self, pool: Pool) -> None:
        info = pool.connection_info()
        self.sub = subscribe(info["events"], info["key"])
        self.events: list[Any] = []
        self.state = State()
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self.wait_for(lambda evs: any(e.kind == "snapshot" for e in evs))

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self.sub.recv(timeout=0.1)
            with self.lock:
                self.events.extend(batch)
                self.state.apply_all(batch)

    def wait_for(self, cond: Any, timeout: float = T) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if cond(self.events):
                    return list(self.events)
            time.sleep(0.02)
        raise AssertionError(f"condition not met; kinds seen: {[e.kind for e in self.events][-30:]}")

    def call_ended(self, call_id: int) -> dict[str, Any]:
        evs = self.wait_for(lambda evs: any(e.kind == "call.ended" and e.body["call"] == call_id
                                            for e in evs))
        return next(e.body for e in evs if e.kind == "call.ended" and e.body["call"] == call_id)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sub.close()


@pytest.fixture
def pool(client: Client) -> Iterator[DaskPool]:
    p = Pool(cluster=client, name="dask-test")
    yield p
    p.shutdown()


@pytest.fixture
def rec(pool: DaskPool) -> Iterator[Recorder]:
    r = Recorder(pool)
    yield r
    r.close()


def last_call(pool: DaskPool) -> int:
    return next(iter(reversed(pool._driver.calls)))


# ------------------------------------------------------------------ the Pool API on Dask
def test_pool_with_cluster_is_a_dask_pool_and_a_pool(pool: DaskPool, client: Client) -> None:
    assert isinstance(pool, DaskPool) and isinstance(pool, Pool)
    assert pool.n_workers == 2 and pool.start_method == "dask"
    assert pool.scheduler_address == client.scheduler.address
    assert "on Dask tcp://127.0.0.1:" in repr(pool)


def test_map_family_in_order_and_complete(pool: DaskPool, rec: Recorder) -> None:
    items = list(range(-3000, 3000))
    assert pool.map(abs, items) == [abs(x) for x in items]
    body = rec.call_ended(last_call(pool))
    assert body["status"] == "done" and body["done"] == len(items)
    assert list(pool.imap(square, range(50))) == [x * x for x in range(50)]
    assert sorted(pool.imap_unordered(square, iter(range(50)))) == [x * x for x in range(50)]
    assert pool.starmap(pow, [(2, 5), (3, 3), (10, 0)]) == [32, 27, 1]
    assert pool.map(square, []) == []


def test_map_chunks_adapt_to_the_measured_time(pool: DaskPool, rec: Recorder) -> None:
    pool.map(abs, range(20_000))
    call = last_call(pool)
    rec.call_ended(call)
    sizes = [e.body["n"] for e in rec.events if e.kind == "task.queued" and e.body["call"] == call]
    assert sum(sizes) == 20_000
    assert sizes[0] == 4 and max(sizes) > 100  # probes first, then chunks of many items
    assert len(sizes) < 200  # not one Dask task per item (Dask's batch_size would not chunk)
    pool.map(nap, [0.05] * 8, chunksize=1)
    call = last_call(pool)
    rec.call_ended(call)
    assert [e.body["n"] for e in rec.events
            if e.kind == "task.queued" and e.body["call"] == call] == [1] * 8


def test_imap_reads_a_lazy_input_as_needed(pool: DaskPool) -> None:
    # Items of 1 ms: the chunks stay small (their size follows the measured item time), so
    # what is read ahead is bounded by the chunks in flight. With tiny items one chunk may
    # rightly take the whole input once timed, and a loaded machine made that a race.
    read = []
    n = 2_000

    def source() -> Iterator[float]:
        for i in range(n):
            read.append(i)
            yield 0.001

    it = pool.imap(nap, source())
    assert next(it) == 0.001
    assert len(read) < n  # not all read up front
    assert sum(1 for _ in it) == n - 1


def test_map_error_is_raised_with_the_remote_traceback_and_a_note(pool: DaskPool,
                                                                   rec: Recorder) -> None:
    with pytest.raises(ValueError, match="bad item 7") as info:
        pool.map(fail_on_7, range(20))
    exc = info.value
    assert isinstance(exc.__cause__, RemoteTraceback)
    assert "fail_on_7" in str(exc.__cause__) and "ValueError: bad item 7" in str(exc.__cause__)
    assert any("raised by fail_on_7(7) in Dask worker tcp://127.0.0.1:" in n
               and "item 7 of call" in n for n in exc.__notes__)
    body = rec.call_ended(last_call(pool))
    assert body["status"] == "erred" and body["erred"] >= 1
    assert body["done"] + body["erred"] + body["cancelled"] == 20
    erred = [e.body for e in rec.events if e.kind == "task.erred"]
    assert erred and erred[-1]["index"] == 7 and erred[-1]["arg"] == "7"
    assert "bad item 7" in erred[-1]["traceback"] and erred[-1]["worker"] >= 0
    # the failure is kept, and re-runs here
    failure = pool.errors[-1]
    assert failure.index == 7 and failure.fn_name == "fail_on_7"
    with pytest.raises(ValueError, match="bad item 7"):
        failure.rerun()
    assert failure.rerun(8) == 8


def test_imap_error_comes_at_its_item(pool: DaskPool) -> None:
    got = []
    with pytest.raises(ValueError, match="bad item 7"):
        for value in pool.imap(fail_on_7, range(20)):
            got.append(value)
    assert got == list(range(7))


def test_unpicklable_result_fails_only_its_item(pool: DaskPool) -> None:
    with pytest.raises(SerializationError, match="cannot be pickled") as info:
        pool.map(make_lock, range(5), chunksize=5)
    assert any("item 2 of call" in n for n in info.value.__notes__)


def test_an_unpicklable_item_fails_alone_named_and_the_pool_goes_on(pool: DaskPool,
                                                                     rec: Recorder) -> None:
    seen = len(rec.events)
    with pytest.raises(SerializationError, match="cannot pickle item 5 of the input") as info:
        pool.map(square, [1, 2, 3, 4, 5, threading.Lock(), 7], chunksize=7)
    assert "lock" in str(info.value)  # its repr names the culprit
    # Its chunk still ran: the other six items of the same Dask task have their results.
    evs = rec.wait_for(lambda evs: any(ev.kind == "call.ended" for ev in evs[seen:]))
    ended = next(ev.body for ev in evs[seen:] if ev.kind == "call.ended")
    assert (ended["done"], ended["erred"]) == (6, 1)
    assert pool.map(square, [2]) == [4]


def test_submit_with_dependencies_left_on_the_workers(pool: DaskPool, rec: Recorder) -> None:
    a = pool.submit(square, 3, key="a")
    b = pool.submit(square, a)
    c = pool.submit(sum, [a, b])
    d = pool.submit(max, [1], default=c)  # a Future as a keyword argument
    e = pool.submit(dict, {"x": a, "y": [b, (c,)]})  # nested in a dict, a list, a tuple
    assert pool.get_future("a") is a
    assert c.result(T) == 90 and b.result(T) == 81 and d.result(T) == 1
    assert e.result(T) == {"x": 9, "y": [81, (90,)]}
    assert pool.gather([a, b, c]) == [9, 81, 90]
    rec.wait_for(lambda evs: sum(1 for ev in evs if ev.kind == "task.finished"
                                 and ev.body["state"] == "memory") >= 5)
    waiting = [ev.body["task"] for ev in rec.events if ev.kind == "task.waiting"]
    assert b.task_id in waiting and c.task_id in waiting  # they waited for their inputs
    deps = [ev for ev in rec.events if ev.kind == "task.queued" and ev.body.get("was") == "waiting"]
    assert {ev.body["task"] for ev in deps} >= {b.task_id, c.task_id}
    # dropping a Future releases its result
    tid = a.task_id
    del a
    import gc

    gc.collect()
    rec.wait_for(lambda evs: any(ev.kind == "task.released" and ev.body["task"] == tid
                                 for ev in evs))


def test_submit_error_and_its_dependents(pool: DaskPool) -> None:
    bad = pool.submit(fail_on_7, 7, key="bad")
    child = pool.submit(square, bad, key="child")
    grandchild = pool.submit(square, child, key="grandchild")
    with pytest.raises(ValueError, match="bad item 7") as info:
        bad.result(T)
    assert isinstance(info.value.__cause__, RemoteTraceback)
    assert "fail_on_7" in str(info.value.__cause__)
    assert any("raised by fail_on_7(7)" in n for n in info.value.__notes__)
    with pytest.raises(TaskError, match="'child' did not run: its input 'bad' failed"):
        child.result(T)
    with pytest.raises(TaskError, match="an input further up, 'bad', failed") as info:
        grandchild.result(T)
    assert isinstance(info.value.__cause__, ValueError)


def test_submit_bad_input_raises_in_the_caller(pool: DaskPool) -> None:
    with pytest.raises(TypeError, match="needs a callable"):
        pool.submit(42)
    with pytest.raises(SerializationError, match="argument 0"):
        pool.submit(square, threading.Lock())
    with Pool(2) as local:
        other = local.submit(square, 2)
        with pytest.raises(ValueError, match="Future of another pool"):
            pool.submit(square, other)
        other.result(T)
    with pytest.raises(ValueError, match="timeout= is not available"):
        pool.map(square, [1], timeout=1)


def test_cancel_a_waiting_submit_and_its_dependents(pool: DaskPool, rec: Recorder) -> None:
    slow = pool.submit(nap, 1.0)
    waiting = pool.submit(square, slow)
    after = pool.submit(square, waiting)
    assert waiting.cancel()
    assert waiting.cancelled()
    with pytest.raises(cf.CancelledError):  # cancelled in Dask too (Dask cancels dependents)
        after.result(T)
    assert slow.result(T) == 1.0
    rec.wait_for(lambda evs: any(e.kind == "task.cancelled" and e.body["task"] == waiting.task_id
                                 for e in evs))


def test_breaking_out_of_imap_cancels_and_frees_the_workers(pool: DaskPool,
                                                            rec: Recorder) -> None:
    # Chunks of 10 items of 0.4 s: 4 s each. Cancelled, a running chunk stops at its next
    # item (Dask cannot stop the item itself), so the workers are free again well before.
    it = pool.imap_unordered(nap, [0.01] * 10 + [0.4] * 50, chunksize=10)
    assert next(it) == 0.01  # the first chunk is quick
    t0 = time.monotonic()
    time.sleep(0.5)
    it.close()  # the generator's finally cancels the call
    body = rec.call_ended(last_call(pool))
    assert body["status"] == "cancelled"
    assert body["done"] + body["erred"] + body["cancelled"] == 60 and body["cancelled"] >= 40
    assert pool.submit(square, 4).result(T) == 16
    assert time.monotonic() - t0 < 3.5  # a chunk left running would take 4 s


def test_interrupting_a_map_says_what_dask_cannot_stop(pool: DaskPool, rec: Recorder) -> None:
    timer = threading.Timer(0.8, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            pool.map(nap, [0.3] * 40, chunksize=2)
    finally:
        timer.cancel()
    assert RUNNING_NOTE in info.value.__notes__
    body = rec.call_ended(last_call(pool))
    assert body["status"] == "interrupted"
    assert body["done"] + body["erred"] + body["cancelled"] == 40
    rec.wait_for(lambda evs: any(e.kind == "pool.status" and e.body["status"] == "interrupted"
                                 for e in evs))
    assert pool.map(square, [3]) == [9]  # usable again
    assert pool.status == "running"


def test_a_running_task_shows_as_processing_while_it_runs(pool: DaskPool, rec: Recorder) -> None:
    # Dask tells a client only that a task ended; a task expected to run long reports its
    # start from the worker, so the panes show it running (and where).
    fut = pool.submit(nap, 1.5)
    evs = rec.wait_for(lambda evs: any(e.kind == "task.processing"
                                       and e.body["task"] == fut.task_id for e in evs))
    assert not fut.done()  # seen running, before it ended
    start = next(e for e in evs if e.kind == "task.processing" and e.body["task"] == fut.task_id)
    assert start.body["worker"] >= 0
    with rec.lock:
        call = rec.state.to_json()["calls"][-1]
    assert call["counts"]["processing"] == 1
    assert fut.result(T) == 1.5
    evs = rec.wait_for(lambda evs: any(e.kind == "task.finished"
                                       and e.body["task"] == fut.task_id for e in evs))
    done = next(e for e in evs if e.kind == "task.finished" and e.body["task"] == fut.task_id)
    assert done.body["end"] - done.body["start"] >= 1.4
    assert abs(done.body["start"] - start.ts) < 0.5  # the same start, on our clock
    assert sum(1 for e in evs if e.kind == "task.processing"
               and e.body["task"] == fut.task_id) == 1


def test_events_add_up_in_the_state(pool: DaskPool, rec: Recorder) -> None:
    pool.map(square, range(500))
    futs = [pool.submit(square, i) for i in range(10)]
    assert [f.result(T) for f in futs] == [i * i for i in range(10)]
    with pytest.raises(ValueError):
        pool.map(fail_on_7, range(10), chunksize=1)
    call = last_call(pool)
    rec.call_ended(call)
    rec.wait_for(lambda evs: sum(1 for e in evs if e.kind == "task.finished"
                                 and e.body["state"] == "memory") >= 10)
    rec.wait_for(lambda evs: any(e.kind == "worker.samples" for e in evs))
    with rec.lock:
        state = rec.state.to_json()
        kinds = {e.kind for e in rec.events}
        snap = next(e.body for e in rec.events if e.kind == "snapshot")
        workers = {w["worker"] for w in snap["workers"]}  # (started before we subscribed)
        ran_on = {e.body["worker"] for e in rec.events if e.kind == "task.processing"}
    assert {"snapshot", "call.started", "task.queued", "task.processing", "task.finished",
            "task.erred", "call.ended", "worker.samples"} <= kinds
    assert ran_on <= workers and len(workers) >= 2
    calls = {c["id"]: c for c in state["calls"]}
    assert calls[call]["status"] == "erred"
    for c in calls.values():
        counts = c["counts"]
        ended = counts["released"] + counts["memory"] + counts["erred"] + counts["cancelled"]
        assert counts["queued"] == counts["processing"] == counts["waiting"] == 0, c
        assert ended == c["total"], c
    first = next(c for c in calls.values() if c["api"] == "map")
    assert first["counts"]["released"] == 500 and first["fn"] == "square"
    assert state["pool"]["name"] == "dask-test" and state["pool"]["n_workers"] == 2
    # Each worker is shown by its Dask address, as Dask's own dashboard names it.
    addresses = {a.split("://", 1)[-1] for a in pool.client.scheduler_info()["workers"]}
    labels = {w["label"] for w in state["workers"] if w["status"] not in ("exited", "died")}
    assert labels == addresses and len(labels) == 2, (labels, addresses)


def test_shutdown_leaves_the_cluster_and_a_given_client_running(client: Client) -> None:
    pool = Pool(cluster=client)
    fut = pool.submit(square, 5)
    pool.shutdown()  # waits for the submitted work
    assert fut.done() and fut.result(T) == 25  # (the Client is the caller's: still usable)
    assert client.status == "running" and client.submit(square, 6).result(T) == 36
    with pytest.raises(Exception, match="shut down"):
        pool.map(square, [1])
    pool.shutdown()  # twice is fine


def test_shutdown_closes_only_the_client_it_made(cluster: LocalCluster, client: Client) -> None:
    for target in (cluster, cluster.scheduler_address):
        pool = Pool(cluster=target)
        own = pool.client
        assert own is not client and pool.map(square, [1, 2]) == [1, 4]
        pool.shutdown()
        assert own.status == "closed"
    assert client.submit(square, 7).result(T) == 49  # the cluster still runs


def test_shutdown_with_cancel_futures(client: Client) -> None:
    pool = Pool(cluster=client)
    slow = [pool.submit(nap, 0.5) for _ in range(6)]
    pool.shutdown(cancel_futures=True)
    states = [("cancelled" if f.cancelled() else "error" if f.exception() else "done")
              for f in slow]
    assert "cancelled" in states or "error" in states
    assert all(s in ("cancelled", "error", "done") for s in states)


def test_the_pool_is_listed_in_the_registry(pool: DaskPool, _private_runtime_dir: Path) -> None:
    from taskscope.pool import registry

    entries = [e for e in registry.list_pools() if e["id"] == pool.id]
    assert entries and entries[0]["name"] == "dask-test" and entries[0]["n_workers"] == 2


def test_control_cancel_from_the_server_side(pool: DaskPool, rec: Recorder) -> None:
    from taskscope.pool.control import send_control

    it = pool.imap(nap, [0.2] * 30, chunksize=1)
    # As from the page: the driver has started the call (a control about a call it does not
    # know yet is ignored; it comes on another socket than the call itself).
    evs = rec.wait_for(lambda evs: any(e.kind == "call.started" and e.body["api"] == "imap"
                                       for e in evs))
    call = [e.body["call"] for e in evs if e.kind == "call.started"
            and e.body["api"] == "imap"][-1]
    info = pool.connection_info()
    send_control(info["control"], info["key"], "cancel_call", call=call)
    body = rec.call_ended(call)
    assert body["status"] == "cancelled"
    with pytest.raises(TaskCancelledError):
        list(it)


# ------------------------------------------------------------------ a killed Dask worker
def test_a_killed_worker_during_a_map(_private_runtime_dir: Path) -> None:
    with LocalCluster(**cluster_kwargs()) as cluster, \
            Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=T)
        pool = Pool(cluster=client)
        rec = Recorder(pool)
        try:
            pids = list(client.run(worker_pid).values())
            timer = threading.Timer(1.0, os.kill, (pids[0], signal.SIGKILL))
            timer.start()
            items = [0.05] * 80
            assert pool.map(nap, items, chunksize=2) == items  # Dask re-runs the lost chunk
            timer.join()
            body = rec.call_ended(last_call(pool))
            assert body["status"] == "done" and body["done"] == 80
            assert body["erred"] == body["cancelled"] == 0
            exited = rec.wait_for(lambda evs: any(e.kind == "worker.exited" for e in evs))
            gone = [e.body for e in exited if e.kind == "worker.exited"]
            assert gone[0]["reason"] == "died"
            client.wait_for_workers(2, timeout=T)  # the nanny starts a new one
            # (the first two started before we subscribed: the snapshot told of them)
            new = rec.wait_for(lambda evs: any(e.kind == "worker.started" for e in evs))
            assert [e.body["worker"] for e in new if e.kind == "worker.started"] == [2]
            assert not psutil.pid_exists(pids[0]) or psutil.Process(pids[0]).status() == "zombie"
        finally:
            rec.close()
            pool.shutdown()


# ------------------------------------------------------------------ bad input
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_with_nothing_listening() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match="no Dask scheduler answered at the address") as info:
        Pool(cluster=address, connect_timeout=1)
    assert address in str(info.value) and "dask scheduler" in str(info.value)
    assert time.monotonic() - t0 < 20


def test_a_closed_client(cluster: LocalCluster) -> None:
    c = Client(cluster, set_as_default=False)
    c.close()
    with pytest.raises(RuntimeError, match=r"status 'closed'.*make a new one"):
        Pool(cluster=c)


def test_an_unconnected_asynchronous_client(cluster: LocalCluster) -> None:
    async def main() -> None:
        c = Client(cluster.scheduler_address, asynchronous=True, set_as_default=False)
        assert c.status == "newly-created"  # never awaited: not connected
        with pytest.raises(ValueError, match=r"asynchronous.*pass a synchronous Client"):
            Pool(cluster=c)
        await c  # (connected now, so that it can close cleanly)
        with pytest.raises(ValueError, match="asynchronous"):
            Pool(cluster=c)
        await c.close()

    asyncio.run(main())


def test_a_client_closed_under_the_pool(cluster: LocalCluster) -> None:
    c = Client(cluster, set_as_default=False)
    pool = Pool(cluster=c)
    fut = pool.submit(nap, 3.0)
    it = pool.imap(nap, [2.0] * 4, chunksize=1)
    c.close()
    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match=r"Client of pool .* was closed"):
        fut.result(T)
    with pytest.raises(ConnectionError, match="was closed"):
        list(it)
    with pytest.raises(PoolClosedError, match="is broken"):
        pool.map(square, [1])
    pool.shutdown()  # returns: nothing left to wait for
    assert time.monotonic() - t0 < 10


def test_other_bad_cluster_arguments(client: Client) -> None:
    with pytest.raises(TypeError, match=r"cluster= takes a distributed\.Client"):
        Pool(cluster=42)
    with pytest.raises(ValueError, match=r"n_workers= does not apply.*scale the cluster"):
        Pool(4, cluster=client)
    with pytest.raises(ValueError, match="memory_limit= does not apply"):
        Pool(cluster=client, memory_limit="1GB")
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        Pool(cluster=client, bogus=1)
    with pytest.raises(ValueError, match=r"profile= does not apply.*client\.profile\(\)"):
        Pool(cluster=client, profile=True)  # Dask samples its own workers (1.4)
    with Pool(cluster=client, profile=False) as pool:
        with pytest.raises(ValueError, match=r"does not profile.*client\.profile\(\)"):
            pool.profile()


def test_a_too_old_distributed_is_refused_naming_the_fix() -> None:
    with pytest.raises(ImportError, match=r"distributed >= 2026\.6\.0.*2024\.1\.0 is installed.*"
                                          r"pip install -U 'taskscope\[dask\]'"):
        check_version("2024.1.0")
    check_version("2026.8.0")
    check_version("2026.6.0")
