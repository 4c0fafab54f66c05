"""The Dask adapter against a real LocalCluster(processes=True) on loopback.

Each test watches a real cluster through `taskscope.pool.dask.watch`, subscribes to the
watch's signed event stream with the kernel's own `Collector` (what the dashboard, the
server extension and the sidebar use), and checks the State and the raw events the work
produced: maps, graphs with transfers, errors and the dependents that blame them, a worker
process killed with SIGKILL, a restarted cluster, a scheduler that refuses plugins, a
scheduler without taskscope installed, and the bad inputs that must fail clearly.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")  # in the test extra: never skipped in CI

from taskscope.collector import Collector  # noqa: E402
from taskscope.pool import registry, subscribe  # noqa: E402
from taskscope.pool.dask import DaskWatchError, watch  # noqa: E402
from taskscope.pool.dask.translate import (  # noqa: E402
    FLAG_DESERIALIZE,
    FLAG_DISK,
    FLAG_ERRED,
    FLAG_TRANSFER,
)

CLUSTER = dict(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
               dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0")
WAIT_S = 30.0
NOT_COMPUTE = FLAG_TRANSFER | FLAG_DISK | FLAG_DESERIALIZE


@pytest.fixture(autouse=True)
def _runtime_dir(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(**CLUSTER) as cl:
        yield cl


@pytest.fixture
def client(cluster: Any) -> Iterator[Any]:
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c


class Recorder:
    """Every event of a watch, from its own subscriber thread, plus a Collector's State."""

    def __init__(self, w: Any) -> None:
        info = w.connection_info()
        self.collector = Collector(info["events"], info["key"], "test")
        self.events: list[Any] = []
        self._sub = subscribe(info["events"], info["key"])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        # Both subscribers synced (their snapshot arrived) before the test's work starts.
        deadline = time.monotonic() + 10
        while not (self.events and self.state()["pool"]["id"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.events, "the watch's snapshot never arrived"

    def _run(self) -> None:
        while not self._stop.is_set():
            self.events.extend(self._sub.recv(timeout=0.1))
        self._sub.close()

    def wait(self, predicate: Any, what: str, timeout: float = WAIT_S) -> dict[str, Any]:
        ok = self.collector.wait_for(lambda st: predicate(st.to_json()), timeout)
        state = self.state()
        assert ok, f"timed out waiting for {what}; state: {summary(state)}"
        return state

    def state(self) -> dict[str, Any]:
        with self.collector.lock:
            return self.collector.state.to_json()

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [e.body for e in list(self.events) if e.kind == kind]

    def records(self, until: Any = bool, timeout: float = 5.0) -> list[list[float]]:
        """The task-stream records received, once `until(records)` holds (this subscriber
        may be a batch behind the Collector the test waited on)."""
        deadline = time.monotonic() + timeout
        while True:
            out = [r for b in self.kinds("task.stream") for r in b["records"]]
            if until(out) or time.monotonic() > deadline:
                return out
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.collector.stop()


def summary(st: dict[str, Any]) -> Any:
    return {"calls": {c["fn"]: (c["counts"], c["submitted"], c["status"]) for c in st["calls"]},
            "workers": [(w["id"], w["status"]) for w in st["workers"]],
            "errors": st["errors_total"], "stream": st["stream_total"]}


def call(st: dict[str, Any], fn: str) -> dict[str, Any] | None:
    return next((c for c in st["calls"] if c["fn"] == fn), None)


def counts_add_up(c: dict[str, Any]) -> bool:
    return sum(c["counts"].values()) == c["submitted"]


@pytest.fixture
def watched(client: Any) -> Iterator[tuple[Any, Recorder]]:
    w = watch(client)
    rec = Recorder(w)
    yield w, rec
    rec.close()
    w.close()


def inc(x: int) -> int:
    time.sleep(0.005)
    return x + 1


def add(a: int, b: int) -> int:
    return a + b


def test_map_counts_stream_workers_and_memory(watched: Any, client: Any, cluster: Any) -> None:
    w, rec = watched
    futures = client.map(inc, range(200), key=[f"square-{i}" for i in range(200)])
    assert client.gather(futures)[-1] == 200
    st = rec.wait(lambda s: (call(s, "square") or {}).get("counts", {}).get("memory") == 200,
                  "200 results in memory")
    c = call(st, "square")
    assert c["submitted"] == 200 and c["status"] == "done" and c["api"] == "dask"
    assert st["totals"]["done"] == 200 and st["totals"]["erred"] == 0
    # Workers: both, by address, with their lanes (one thread each), memory and limit.
    addrs = set(cluster.scheduler.workers)
    ws = {x["address"]: x for x in st["workers"]}
    assert set(ws) == addrs
    for x in ws.values():
        assert x["nthreads"] == 1 and len(x["lanes"]) == 1
        assert x["rss"] > 10_000_000 and x["memory_limit"] and x["memory_limit"] > x["rss"]
        assert x["pid"] and x["pid"] != os.getpid()
    assert sum(x["tasks_done"] for x in ws.values()) == 200
    assert sum(x["managed"] for x in ws.values()) > 0  # the 200 ints held
    # Task stream: bars on the workers' lanes, coalesced at the source (fewer than tasks,
    # counting every task), in this machine's monotonic clock.
    records = rec.records(lambda rs: sum(r[4] for r in rs if not r[5] & NOT_COMPUTE) >= 200)
    lanes = {lane for x in ws.values() for lane in x["lanes"]}
    assert records and {r[2] for r in records} <= lanes
    computes = [r for r in records if not r[5] & NOT_COMPUTE]
    assert sum(r[4] for r in computes) == 200
    now = time.monotonic()
    assert all(now - 60 < r[0] <= r[1] <= now + 1 for r in records)
    # Dropping the futures releases the results: done, no longer held.
    del futures
    st = rec.wait(lambda s: (call(s, "square") or {}).get("counts", {}).get("released") == 200,
                  "200 released")
    assert counts_add_up(call(st, "square"))


def test_graph_with_transfers(watched: Any, client: Any, cluster: Any) -> None:
    w, rec = watched
    a, b = sorted(cluster.scheduler.workers)
    # Inputs pinned to worker a, their sums to worker b: every sum fetches its inputs.
    xs = [client.submit(inc, i, key=f"leaf-{i}", workers=[a]) for i in range(8)]
    sums = [client.submit(add, xs[i], xs[i + 1], key=f"pair-{i}", workers=[b])
            for i in range(0, 8, 2)]
    total = client.submit(sum, sums, key="total-0")
    assert total.result() == sum(range(1, 9))
    st = rec.wait(lambda s: all((call(s, p) or {}).get("status") == "done"
                                for p in ("leaf", "pair", "total")), "the graph done")
    assert [call(st, p)["submitted"] for p in ("leaf", "pair", "total")] == [8, 4, 1]
    records = rec.records(lambda rs: any(r[5] & FLAG_TRANSFER for r in rs))
    lane_b = next(x for x in st["workers"] if x["address"] == b)["lanes"]
    transfers = [r for r in records if r[5] & FLAG_TRANSFER]
    assert transfers and all(r[2] in lane_b for r in transfers)
    assert all(r[3] == call(st, "pair")["id"] for r in transfers)


def test_errors_and_blamed_dependents(watched: Any, client: Any) -> None:
    w, rec = watched

    def fragile(x: int) -> int:
        if x == 3:
            raise ValueError(f"bad value {x}")
        return x

    bad = client.map(fragile, range(6), key=[f"fragile-{i}" for i in range(6)])
    deps = [client.submit(inc, f, key=f"after-{i}") for i, f in enumerate(bad)]
    with pytest.raises(ValueError, match="bad value 3"):
        client.gather(deps)
    st = rec.wait(lambda s: s["errors_total"] >= 2 and (call(s, "after") or {})
                  .get("status") == "erred", "the error and its dependent")
    root = next(e for e in st["errors"] if e["key"] == "fragile-3")
    assert root["exc_type"] == "ValueError" and root["message"] == "bad value 3"
    assert "in fragile" in root["traceback"] and "ValueError: bad value 3" in root["traceback"]
    assert root["worker_label"].startswith("127.0.0.1:")
    blamed = next(e for e in st["errors"] if e.get("blame"))
    assert blamed["key"] == "after-3" and blamed["blame"] == "fragile-3"
    assert "'fragile-3' failed" in blamed["message"] and "bad value 3" in blamed["message"]
    assert blamed["exc_type"] == "ValueError"
    for fn, erred in (("fragile", 1), ("after", 1)):
        c = call(st, fn)
        assert c["counts"]["erred"] == erred and c["submitted"] == 6 and counts_add_up(c)
    stream = rec.records(lambda rs: any(r[5] & FLAG_ERRED for r in rs))
    assert any(r[5] & FLAG_ERRED for r in stream)


def test_late_subscriber_gets_the_whole_picture(watched: Any, client: Any) -> None:
    w, rec = watched
    futures = client.map(inc, range(50), key=[f"early-{i}" for i in range(50)])
    client.gather(futures)
    rec.wait(lambda s: (call(s, "early") or {}).get("status") == "done", "early done")
    late = Recorder(w)  # as a dashboard displayed after the work, or the server extension
    try:
        st = late.wait(lambda s: (call(s, "early") or {}).get("counts", {}).get("memory") == 50
                       and len([x for x in s["workers"] if x["status"] != "exited"]) == 2,
                       "the replayed picture")
        assert st["pool"]["name"] == w.name and st["pool"]["status"] == "running"
        assert st["pool"]["scheduler"] == client.scheduler.address
        assert st["pool"]["mode"] == "plugin" and "note" not in st["pool"]
        # The join snapshot's history: every task-stream record the first watcher kept (it
        # saw them all) and the resource samples from before the late one joined.
        first = rec.wait(lambda s: s["stream_total"] >= 1, "records")["stream_total"]
        late.wait(lambda s: s["stream_total"] >= first, "the kept task stream")
        with rec.collector.lock, late.collector.lock:
            seen, told = rec.collector.state.resources.total, late.collector.state.resources.total
        assert told >= min(seen, 2), (seen, told)
    finally:
        late.close()


def test_registry_entry_and_clean_close(client: Any, cluster: Any) -> None:
    w = watch(client, name="my cluster")
    assert watch(client) is w  # one watch per Client
    entries = [e for e in registry.list_pools() if e["id"] == w.id]
    assert len(entries) == 1
    e = entries[0]
    assert e["origin"] == "dask" and e["scheduler"] == cluster.scheduler_address
    assert e["name"] == "my cluster" and e["control"] is None
    assert w._plugin_name in cluster.scheduler.plugins
    w.close()
    assert w.status == "closed"
    assert not [e for e in registry.list_pools() if e["id"] == w.id]
    deadline = time.monotonic() + 5
    while w._plugin_name in cluster.scheduler.plugins and time.monotonic() < deadline:
        time.sleep(0.05)
    assert w._plugin_name not in cluster.scheduler.plugins
    assert client.status == "running"  # the cluster and the Client keep running
    assert client.submit(inc, 1, key="still-1").result() == 2


def test_watch_of_a_cluster_object_makes_and_closes_its_client(cluster: Any) -> None:
    w = watch(cluster)
    try:
        assert w._own_client and w.client.status == "running"
        assert w.scheduler_address == cluster.scheduler_address
    finally:
        w.close()
    assert w.client.status == "closed" and w.status == "closed"


def test_closing_the_client_closes_the_watch(cluster: Any) -> None:
    c = distributed.Client(cluster, set_as_default=False)
    w = watch(c)
    rec = Recorder(w)
    try:
        c.close()
        st = rec.wait(lambda s: s["pool"]["status"] == "closed", "the watch closed")
        assert st["pool"]["ended"] is not None and w.status == "closed"
        assert not [e for e in registry.list_pools() if e["id"] == w.id]
        deadline = time.monotonic() + 5  # the plugin removed itself when its client left
        while w._plugin_name in cluster.scheduler.plugins and time.monotonic() < deadline:
            time.sleep(0.05)
        assert w._plugin_name not in cluster.scheduler.plugins
    finally:
        rec.close()
        w.close()


def test_killed_worker_process() -> None:
    with distributed.LocalCluster(**CLUSTER) as cl, distributed.Client(cl) as c:
        w = watch(c)
        rec = Recorder(w)
        try:
            rec.wait(lambda s: len(s["workers"]) == 2, "two workers")
            slow = c.map(time.sleep, [0.5] * 8, key=[f"nap-{i}" for i in range(8)])
            time.sleep(0.8)
            victim = sorted(cl.scheduler.workers)[0]
            pid = c.run(os.getpid, workers=[victim])[victim]
            os.kill(pid, signal.SIGKILL)
            c.gather(slow)  # Dask reruns what the dead worker held or ran
            st = rec.wait(lambda s: (call(s, "nap") or {}).get("status") == "done"
                          and any(x["status"] == "died" for x in s["workers"]),
                          "the work done and the worker dead")
            dead = [x for x in st["workers"] if x["status"] == "died"]
            assert [x["address"] for x in dead] == [victim] and dead[0]["pid"] == pid
            deadline = time.monotonic() + 5
            while not rec.kinds("worker.exited") and time.monotonic() < deadline:
                time.sleep(0.05)
            exited = [b for b in rec.kinds("worker.exited") if b["reason"] == "died"]
            assert len(exited) == 1
            nap = call(st, "nap")
            assert nap["counts"]["memory"] == 8 and nap["submitted"] == 8
            # The nanny starts a new worker process: a new worker in the panes.
            st = rec.wait(lambda s: len([x for x in s["workers"]
                                         if x["status"] in ("idle", "busy")]) == 2,
                          "the replacement worker")
        finally:
            rec.close()
            w.close()


def test_restarted_cluster() -> None:
    with distributed.LocalCluster(**CLUSTER) as cl, distributed.Client(cl) as c:
        w = watch(c)
        rec = Recorder(w)
        try:
            done = c.map(inc, range(10), key=[f"kept-{i}" for i in range(10)])
            c.gather(done)
            pending = c.map(time.sleep, [2.0] * 6, key=[f"long-{i}" for i in range(6)])
            rec.wait(lambda s: (call(s, "long") or {}).get("counts", {}).get("processing", 0) > 0,
                     "long tasks running")
            before = {x["address"] for x in rec.state()["workers"]}
            c.restart()
            st = rec.wait(lambda s: (call(s, "long") or {}).get("status") in ("done", "erred")
                          and len([x for x in s["workers"] if x["status"] in ("idle", "busy")]) == 2
                          and len(s["workers"]) == 4, "the restart seen")
            long, kept = call(st, "long"), call(st, "kept")
            assert long["counts"]["cancelled"] == 6 and counts_add_up(long), long
            assert kept["counts"]["released"] == 10 and counts_add_up(kept), kept
            old = [x for x in st["workers"] if x["address"] in before]
            assert len(old) == 2 and all(x["status"] == "exited" for x in old)
            # Work after the restart is counted as usual, on the new workers.
            after = c.submit(inc, 41, key="after-0")
            assert after.result() == 42
            rec.wait(lambda s: (call(s, "after") or {}).get("counts", {}).get("memory") == 1,
                     "work after the restart")
            del done, pending, after
        finally:
            rec.close()
            w.close()


def test_scheduler_refusing_plugins_falls_back_to_polling() -> None:
    kw = dict(CLUSTER, n_workers=1, scheduler_kwargs={"blocked_handlers":
                                                      ["register_scheduler_plugin"]})
    with distributed.LocalCluster(**kw) as cl, distributed.Client(cl) as c:
        with pytest.warns(RuntimeWarning, match="refused taskscope's plugin"):
            w = watch(c)
        rec = Recorder(w)
        try:
            assert w.mode == "polling"
            c.gather(c.map(inc, range(30), key=[f"polled-{i}" for i in range(30)]))
            st = rec.wait(lambda s: (call(s, "polled") or {}).get("counts", {})
                          .get("released") == 30, "30 finished tasks polled")
            assert "register_scheduler_plugin" in st["pool"]["note"]
            assert "no waiting or queued counts" in st["pool"]["note"]
            assert st["stream_total"] > 0 and st["workers"][0]["address"] in cl.scheduler.workers
        finally:
            rec.close()
            w.close()


BLOCKER = """
import sys
sys.modules["taskscope"] = None  # this scheduler cannot import taskscope
"""


def test_scheduler_without_taskscope(tmp_path: Any) -> None:
    """The plugin travels by value: a scheduler that cannot import taskscope runs it."""
    import subprocess

    blocker = tmp_path / "no_taskscope.py"
    blocker.write_text(BLOCKER)
    sched_file = tmp_path / "scheduler.json"
    env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__WORK_STEALING="False")
    sched = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", "0", "--dashboard-address", "127.0.0.1:0", "--scheduler-file",
         str(sched_file), "--preload", str(blocker)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        deadline = time.monotonic() + 30
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sched_file.exists(), "the scheduler did not start"
        with distributed.Client(scheduler_file=str(sched_file), set_as_default=False) as c:
            worker = subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", c.scheduler.address,
                 "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
                 "--dashboard-address", "127.0.0.1:0"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            c.wait_for_workers(1, timeout=30)
            assert c.run_on_scheduler(lambda: sys.modules.get("taskscope", 0)) is None
            w = watch(c)
            rec = Recorder(w)
            try:
                assert w.mode == "plugin"
                # A builtin: a function of this module would need it on the scheduler.
                futures = c.map(pow, range(20), [2] * 20, key=[f"remote-{i}" for i in range(20)])
                assert c.gather(futures)[-1] == 361
                st = rec.wait(lambda s: (call(s, "remote") or {}).get("counts", {})
                              .get("memory") == 20, "20 tasks counted by the plugin")
                assert st["workers"][0]["tasks_done"] == 20
            finally:
                rec.close()
                w.close()
    finally:
        for proc in (worker, sched):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


# ---------------------------------------------------------------------------- bad input
def test_closed_client_is_refused(cluster: Any) -> None:
    c = distributed.Client(cluster, set_as_default=False)
    c.close()
    with pytest.raises(DaskWatchError, match=r"not connected \(its status is 'closed'\).*Client\(cluster\)"):
        watch(c)


def test_unconnected_client_is_refused(cluster: Any) -> None:
    import asyncio

    async def main() -> None:
        c = distributed.Client(cluster.scheduler_address, asynchronous=True)  # not awaited
        try:
            with pytest.raises(DaskWatchError,
                               match="not connected \\(its status is 'newly-created'\\).*await client"):
                watch(c)
        finally:
            await c  # connect, so that it closes cleanly
            await c.close()

    asyncio.run(main())


def test_address_with_nothing_listening() -> None:
    import socket

    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(DaskWatchError, match=rf"no Dask scheduler answered at 'tcp://127.0.0.1:{port}'.*check the address"):
        watch(f"tcp://127.0.0.1:{port}")
    assert time.monotonic() - t0 < 20


def test_too_old_distributed(monkeypatch: pytest.MonkeyPatch, client: Any) -> None:
    monkeypatch.setattr(distributed, "__version__", "2024.1.0")
    with pytest.raises(DaskWatchError, match=r"distributed 2024.1.0 is too old.*distributed>=2026.6.*pip install -U 'taskscope\[dask\]'"):
        watch(client)


def test_not_a_cluster() -> None:
    with pytest.raises(DaskWatchError, match="cannot watch a int; pass a distributed.Client"):
        watch(42)


def test_dashboard_of_a_pool_a_client_and_junk(client: Any) -> None:
    import taskscope
    from taskscope.collector import collector_for
    from taskscope.pool.dask.watch import live_watches

    with taskscope.Pool(1, name="p") as pool:
        d = taskscope.dashboard(pool)
        try:
            assert type(d) is type(pool.dashboard()) and d._collector is collector_for(pool)
        finally:
            d.close()
    d = taskscope.dashboard(client, panes=["progress", "workers"])
    try:
        w = watch(client)
        assert d.panes == ["progress", "workers"] and w in live_watches()
        assert d._collector is collector_for(w)
        assert taskscope._dashboard.latest() is w  # what %taskscope shows
        assert d._collector.wait_for(lambda st: st.pool["id"] == w.id, 10)
    finally:
        d.close()
        watch(client).close()
    with pytest.raises(TypeError, match="cannot show a dashboard of a list"):
        taskscope.dashboard([1, 2])


def blob(n: int) -> bytearray:
    time.sleep(0.05)
    return bytearray(n)


def test_memory_by_prefix_and_saturation(watched: Any, client: Any, cluster: Any) -> None:
    """Issue 14 (items 3, 5): Dask's bytes in memory per task prefix are the memory pane's
    rows; the stream's bars on each worker's lanes give its saturation."""
    from taskscope._snapshot_memflow import bin_saturation

    w, rec = watched
    t0 = time.monotonic()
    futures = client.map(blob, [1_000_000] * 6, key=[f"blob-{i}" for i in range(6)])
    client.gather(futures)
    st = rec.wait(lambda s: any(r["name"] == "blob" and r["results"] == 6
                                for r in s["memory_by_function"]), "6 blobs held")
    row = next(r for r in st["memory_by_function"] if r["name"] == "blob")
    assert 6_000_000 <= row["bytes"] < 6_100_000 and row["workers"].keys() == {"-1"}
    assert row["color"] == call(st, "blob")["color"]
    records = rec.records(lambda rs: sum(r[4] for r in rs if not r[5] & NOT_COMPUTE) >= 6)
    flat = [v for r in records for v in r]
    ids, series, slots = bin_saturation(flat, st["workers"], t0, time.monotonic(), bins=5)
    assert slots == 2 and sum(map(sum, series)) > 0  # lanes map to their workers
    del futures
    rec.wait(lambda s: not any(r["name"] == "blob" for r in s["memory_by_function"]),
             "the blobs released")
