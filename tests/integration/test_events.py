"""The event stream on real sockets: a subscriber in another process sees a map exactly;
late subscribers get a snapshot; wrong keys and rogue peers get nowhere."""
from __future__ import annotations

import collections
import inspect
import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from taskscope.pool import Pool, subscribe
from taskscope.pool.protocol import Codec
from taskscope.pool.signing import Signer, new_key

HERE = os.path.abspath(__file__)
LISTENER = str(Path(__file__).with_name("event_listener.py"))
TIMEOUT_S = 60.0


def square(x: int) -> int:
    return x * x


@pytest.fixture
def pool() -> Iterator[Pool]:
    with Pool(2) as p:
        yield p


def _conn(pool: Pool) -> dict[str, Any]:
    info = pool.connection_info()
    return {"endpoint": info["events"], "key": info["key"]}


def _collect_until(sub: Any, done: Callable[[Any], bool], timeout: float = TIMEOUT_S) -> list[Any]:
    events: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ev in sub.recv(timeout=0.2):
            events.append(ev)
            if done(ev):
                return events
    raise AssertionError(f"timed out waiting; last kinds {[e.kind for e in events][-20:]}")


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    """One line of the child's stdout, or fail loudly (with its stderr) after `timeout`."""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        if not sel.select(timeout):
            proc.kill()
            raise AssertionError(f"no output from the listener in {timeout} s; stderr: "
                                 f"{proc.communicate()[1]}")
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line:
        raise AssertionError(f"listener exited ({proc.wait()}): {proc.communicate()[1]}")
    return line


@pytest.fixture
def listener_for() -> Iterator[Callable[[Pool], subprocess.Popen]]:
    procs: list[subprocess.Popen] = []

    def start(pool: Pool) -> subprocess.Popen:
        info = pool.connection_info()
        env = {**os.environ, "TASKSCOPE_TEST_KEY": info["key"]}
        proc = subprocess.Popen([sys.executable, LISTENER, info["events"]], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        assert _readline(proc, TIMEOUT_S).strip() == "READY"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_subscriber_in_another_process_sees_a_map_exactly(
        listener_for: Callable[[Pool], subprocess.Popen]) -> None:
    n = 2000
    with Pool(2, max_tasks_per_worker=600) as pool:  # recycling: worker events mid-stream
        proc = listener_for(pool)
        line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
        assert pool.map(square, range(n), chunksize=50) == [x * x for x in range(n)]
        out = json.loads(_readline(proc, TIMEOUT_S))
        assert proc.wait(TIMEOUT_S) == 0

    events = out["events"]
    assert out["gaps"] == 0 and out["dropped"] == 0
    assert events[0]["kind"] == "snapshot"  # the answer to its subscription comes first
    seqs = [e["seq"] for e in events]
    # (The per-task events of one folded `tasks` event share its seq: protocol 1.2.)
    assert seqs == sorted(seqs), "events reordered"
    distinct = sorted(set(seqs))
    assert distinct == list(range(distinct[0], distinct[0] + len(distinct))), "events missing"

    (started,) = [e["body"] for e in events if e["kind"] == "call.started"]
    call = started["call"]
    assert started["api"] == "map" and started["total"] == n
    assert started["fn"] == "square" and started["module"] == square.__module__
    assert started["file"] == HERE and started["line"] == inspect.getsourcelines(square)[1]
    site = started["callsite"]
    assert site["file"] == HERE and site["line"] == line
    assert site["function"] == "test_subscriber_in_another_process_sees_a_map_exactly"
    assert site["code"].startswith("assert pool.map(square, range(n), chunksize=50)")

    of_call = collections.defaultdict(list)
    for e in events:
        if e["body"].get("call") == call:
            of_call[e["kind"]].append(e["body"])
    assert sum(b["n"] for b in of_call["task.queued"]) == n
    assert sum(b["n"] for b in of_call["task.processing"]) == n
    assert sum(b["n"] for b in of_call["task.finished"]) == n
    assert sum(b["n_erred"] for b in of_call["task.finished"]) == 0
    assert of_call["task.erred"] == [] and of_call["task.cancelled"] == []
    finished = {b["task"] for b in of_call["task.finished"]}
    assert finished == {b["task"] for b in of_call["task.processing"]}
    assert len(finished) == len(of_call["task.finished"])  # each task finished once
    for b in of_call["task.finished"]:
        assert b["state"] == "released" and b["end"] >= b["start"] and b["worker"] >= 0
    (ended,) = of_call["call.ended"]
    assert ended["status"] == "done" and ended["done"] == n and ended["erred"] == 0
    kinds = [e["kind"] for e in events]
    assert kinds.index("call.started") < kinds.index("call.ended")

    # Workers were recycled during the map: their lifecycle is in the stream, with pids.
    started_workers = {e["body"]["worker"]: e["body"]["pid"] for e in events
                       if e["kind"] == "worker.started"}
    ready = [e["body"] for e in events if e["kind"] == "worker.ready"]
    exited = [e["body"] for e in events if e["kind"] == "worker.exited"]
    assert started_workers and ready and exited
    known = {w["worker"]: w["pid"] for w in events[0]["body"]["workers"]}  # from the snapshot
    assert not set(known) & set(started_workers)  # new workers get new ids
    known.update(started_workers)
    assert len(set(known.values())) == len(known)  # and new pids
    for b in ready:
        assert known.get(b["worker"]) == b["pid"] and b["pid"] > 0
        assert b["startup"] >= 0 and b["init"] >= 0
    for b in exited:
        assert known.get(b["worker"]) == b["pid"]
        assert b["reason"] == "recycled" and b["exitcode"] == 0 and b["signal"] is None

    samples = [s for e in events if e["kind"] == "worker.samples" for s in e["body"]["samples"]]
    assert samples
    for worker, cpu, rss, managed in samples:
        assert isinstance(worker, int) and cpu >= 0 and rss > 1_000_000 and managed >= 0


def test_late_subscriber_gets_a_snapshot_first(pool: Pool) -> None:
    assert pool.map(square, range(300)) == [x * x for x in range(300)]
    with subscribe(**_conn(pool)) as sub:
        first = _collect_until(sub, lambda e: True)[0]
    assert first.kind == "snapshot"
    body = first.body
    assert body["pool"]["id"] == pool.id and body["pool"]["n_workers"] == 2
    assert body["pool"]["status"] == "running"
    assert len(body["workers"]) == 2 and all(w["pid"] > 0 for w in body["workers"])
    (call,) = body["calls"]
    assert call["fn"] == "square" and call["total"] == 300
    assert call["done"] == 300 and call["status"] == "done"


def test_late_subscriber_right_after_a_map(pool: Pool) -> None:
    for i in range(5):
        assert pool.map(square, range(50), chunksize=5) == [x * x for x in range(50)]
        with subscribe(**_conn(pool)) as sub:
            first = _collect_until(sub, lambda e: True)[0]
        assert first.kind == "snapshot", f"join {i}: first event was {first.kind}"
        assert [c["done"] for c in first.body["calls"]] == [50] * (i + 1)


def test_subscriber_with_the_wrong_key_gets_nothing_and_counts_drops(pool: Pool) -> None:
    info = pool.connection_info()
    with subscribe(info["events"], new_key()) as wrong, subscribe(**_conn(pool)) as right:
        _collect_until(right, lambda e: e.kind == "snapshot")
        assert pool.map(square, range(100)) == [x * x for x in range(100)]
        _collect_until(right, lambda e: e.kind == "call.ended")
        deadline = time.monotonic() + TIMEOUT_S
        while wrong.dropped < 2:  # its own snapshot batch and the map's batches
            assert wrong.recv(timeout=0.2) == [], "a wrong-key subscriber decoded events"
            assert time.monotonic() < deadline, "the wrong-key subscriber received nothing at all"
        assert wrong.recv(timeout=0.1) == []
        assert wrong.gaps == 0 and right.dropped == 0


def test_subscribe_accepts_hex_or_bytes_keys(pool: Pool) -> None:
    info = pool.connection_info()
    with subscribe(info["events"], bytes.fromhex(info["key"])) as sub:
        assert _collect_until(sub, lambda e: True)[0].kind == "snapshot"


def _rogue_frames(key: bytes) -> list[list[bytes]]:
    fake = {"kind": "call.started", "seq": 10**9, "ts": 1.0, "src": "driver",
            "body": {"call": 666, "api": "map", "fn": "EVIL", "module": "m", "file": "f",
                     "line": 1, "callsite": None, "total": 1}}
    header = msgpack.packb({"v": [1, 0], "kind": "events", "seq": 10**9, "src": "driver",
                            "ts": 1.0, "body": {"events": [fake]}}, use_bin_type=True)
    return [
        [b"", header],  # unsigned
        [b"\x00" * 32, header],  # wrong signature
        [Signer(new_key()).sign([header]), header],  # signed with another key
        Codec(new_key(), "driver").encode("events", {"events": [fake]}),  # a whole other pool
        [os.urandom(32), os.urandom(100)],  # noise
        [header],  # truncated
    ]


def test_rogue_publisher_messages_and_replays_are_dropped(pool: Pool, tmp_path: Path) -> None:
    ctx = zmq.Context.instance()
    info = pool.connection_info()
    raw = ctx.socket(zmq.SUB)  # an eavesdropper that keeps a genuine message to replay
    raw.setsockopt(zmq.SUBSCRIBE, b"")
    raw.connect(info["events"])
    rogue = ctx.socket(zmq.PUB)
    rogue_endpoint = f"ipc://{tmp_path}/rogue"
    rogue.bind(rogue_endpoint)
    try:
        with subscribe(**_conn(pool)) as sub:
            seen = _collect_until(sub, lambda e: e.kind == "snapshot")
            assert pool.map(square, range(20)) == [x * x for x in range(20)]
            seen += _collect_until(sub, lambda e: e.kind == "call.ended")
            assert raw.poll(int(TIMEOUT_S * 1000)), "the eavesdropper got nothing"
            genuine = raw.recv_multipart()
            genuine_seqs = [e["seq"] for e in msgpack.unpackb(genuine[1])["body"]["events"]]
            assert max(genuine_seqs) <= max(e.seq for e in seen)  # sub has had it already

            sub.socket.connect(rogue_endpoint)  # the rogue now reaches the subscriber
            forged = [*_rogue_frames(bytes.fromhex(info["key"])), genuine]
            deadline = time.monotonic() + TIMEOUT_S
            while sub.dropped < len(forged):  # resend until the slow joiner has them all
                for frames in forged:
                    rogue.send_multipart(frames)
                seen += sub.recv(timeout=0.1)
                assert time.monotonic() < deadline, f"only {sub.dropped} rogue messages seen"
            assert pool.map(square, range(5)) == [0, 1, 4, 9, 16]
            seen += _collect_until(sub, lambda e: e.kind == "call.ended")
    finally:
        raw.close(linger=0)
        rogue.close(linger=0)
    assert not any(e.body.get("fn") == "EVIL" or e.body.get("call") == 666 for e in seen)
    seqs = [e.seq for e in seen]
    # (The per-task events of one folded `tasks` event share its seq, so (seq, task) pairs
    # are what must be unique: protocol 1.2.)
    keys = [(e.seq, e.kind, e.body.get("task")) for e in seen]
    assert seqs == sorted(seqs) and len(keys) == len(set(keys)), \
        "a replayed or forged event got through"


def test_rogue_peer_on_the_task_socket_is_ignored(pool: Pool) -> None:
    driver = pool._driver
    assert pool.map(square, range(10)) == [x * x for x in range(10)]
    before = driver.codec.dropped
    ctx = zmq.Context.instance()
    peers = []
    try:
        for identity in (b"w99", b"evil"):
            peer = ctx.socket(zmq.DEALER)
            peer.setsockopt(zmq.IDENTITY, identity)
            peer.setsockopt(zmq.LINGER, 0)
            peer.connect(driver.endpoints.tasks_endpoint)
            peers.append(peer)
            header = msgpack.packb({"v": [1, 0], "kind": "results", "seq": 1, "src": "worker:0",
                                    "ts": 1.0, "body": {"results": [{"task": 1, "nf": 0}]}})
            peer.send_multipart([b"\x00" * 32, header])  # unsigned "results"
            peer.send_multipart(Codec(new_key(), "worker:0").encode("init_failed", {}))
            peer.send_multipart([b"x"])  # truncated
        deadline = time.monotonic() + TIMEOUT_S
        while driver.codec.dropped < before + 6:
            assert time.monotonic() < deadline, f"dropped {driver.codec.dropped - before} of 6"
            time.sleep(0.01)  # the driver thread counts them; nothing to wait on from here
    finally:
        for peer in peers:
            peer.close(linger=0)
    assert pool.status == "running"
    assert pool.map(square, range(50)) == [x * x for x in range(50)]
