"""Hostile input on the pool's sockets: unsigned, tampered, truncated, replayed, oversized and
random frames sent to the driver's task socket (ROUTER) by a rogue DEALER, and random event
batches fed to the event-stream decoder. Each is dropped and counted, never decoded further
or unpickled, and the pool keeps working.

(A rogue cannot reach a worker: workers connect out to the driver and accept no connections;
nor can it publish on the pool's event endpoint, which the driver binds. tests/unit/
test_protocol.py fuzzes `Codec.decode` itself; tests/server/test_hostile.py the websocket.)
"""
from __future__ import annotations

import os
import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskscope.pool import Pool, ProtocolError
from taskscope.pool.protocol import MAX_HEADER_BYTES, Codec, check_event
from taskscope.pool.signing import new_key

TIMEOUT_S = 30.0
PWNED = "/tmp/taskscope-hostile-pwned"  # what an unpickled payload below would create


def square(x: int) -> int:
    return x * x


class _Exploit:
    """Unpickling this creates PWNED: the proof that something was unpickled."""

    def __reduce__(self) -> Any:
        return (open, (PWNED, "w"))


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    with Pool(2) as p:
        assert p.map(square, range(10)) == [x * x for x in range(10)]
        yield p


@pytest.fixture
def rogue(pool: Pool) -> Iterator[zmq.Socket]:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, b"rogue-" + os.urandom(4).hex().encode())
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(pool._driver.endpoints.tasks_endpoint)
    yield sock
    sock.close(linger=0)


def _send_all_and_wait_dropped(pool: Pool, sock: zmq.Socket, messages: list[list[bytes]]) -> None:
    driver = pool._driver
    before = driver.codec.dropped
    for frames in messages:
        sock.send_multipart(frames)
    deadline = time.monotonic() + TIMEOUT_S
    while driver.codec.dropped < before + len(messages):
        assert time.monotonic() < deadline, \
            f"dropped {driver.codec.dropped - before} of {len(messages)}"
        time.sleep(0.005)
    assert driver.codec.dropped == before + len(messages)  # each counted once


def _assert_pool_fine(pool: Pool) -> None:
    assert pool._driver.is_alive() and pool._driver.broken is None
    assert pool.status in ("running", "interrupted")
    assert pool.map(square, range(50)) == [x * x for x in range(50)]
    assert not os.path.exists(PWNED), "a hostile payload was unpickled"


def test_unsigned_tampered_truncated_replayed_and_oversized_frames_are_dropped(
        pool: Pool, rogue: zmq.Socket) -> None:
    key = bytes.fromhex(pool.connection_info()["key"])
    exploit = pickle.dumps(_Exploit())
    body = {"results": [{"task": 1, "n": 1, "n_erred": 0, "start": 0.0, "end": 0.0,
                         "errors": [], "nf": 1}], "insights": {}}
    header = msgpack.packb({"v": [1, 1], "kind": "results", "seq": 10**9, "src": "worker:0",
                            "ts": 1.0, "body": body}, use_bin_type=True)
    genuine = Codec(key, "worker:0").encode("results", body, [exploit])  # seq 1: long used
    tampered = list(genuine)
    tampered[1] = bytes(genuine[1]).replace(b"worker:0", b"worker:1")
    tampered_payload = [*genuine[:2], exploit + b"\0"]
    messages = [
        [b"", header, exploit],  # unsigned
        [os.urandom(32), header, exploit],  # a made-up signature
        Codec(new_key(), "worker:0").encode("results", body, [exploit]),  # another key
        tampered,  # the header changed after signing
        tampered_payload,  # the payload changed after signing
        [genuine[0]],  # truncated: the signature alone
        [genuine[0], bytes(genuine[1])[:-3]],  # truncated header
        genuine,  # replayed: worker 0 used sequence number 1 long ago
        [os.urandom(32), os.urandom(MAX_HEADER_BYTES + 1)],  # oversized header
        [os.urandom(32)] * 300,  # many frames
        [b"\x00"],  # one byte
    ]
    _send_all_and_wait_dropped(pool, rogue, messages)
    _assert_pool_fine(pool)


def test_signed_but_oversized_header_is_dropped(pool: Pool, rogue: zmq.Socket) -> None:
    """Even a key holder cannot make the driver decode a header over the limit."""
    key = bytes.fromhex(pool.connection_info()["key"])
    huge = Codec(key, "control:x").encode("control", {"pad": "x" * (MAX_HEADER_BYTES + 10)})
    _send_all_and_wait_dropped(pool, rogue, [huge])
    _assert_pool_fine(pool)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(messages=st.lists(st.lists(st.binary(max_size=300), min_size=1, max_size=6),
                         min_size=1, max_size=5))
def test_random_frames_on_the_task_socket_are_dropped(pool: Pool, rogue: zmq.Socket,
                                                      messages: list[list[bytes]]) -> None:
    _send_all_and_wait_dropped(pool, rogue, messages)
    assert pool._driver.broken is None


def test_the_pool_works_after_the_fuzzing(pool: Pool) -> None:
    _assert_pool_fine(pool)


# ------------------------------------------------------------------ the event-stream side
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
                     | st.binary(max_size=8),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c,
                                                                           max_size=4),
                     max_leaves=12)
_events = st.lists(st.one_of(
    _json,
    st.fixed_dictionaries({"kind": st.sampled_from(["task.finished", "worker.exited", "snapshot",
                                                    "x"]) | st.text(max_size=6),
                           "seq": _json, "ts": _json, "src": _json, "body": _json}),
), max_size=5)


@settings(max_examples=300, deadline=None)
@given(events=_events)
def test_a_signed_batch_of_garbage_events_is_refused_as_protocol_error_only(events: Any) -> None:
    """What a subscriber does with each event of a batch (after the signature checked)."""
    for raw in events:
        try:
            ev = check_event(raw)
        except ProtocolError:
            continue
        assert isinstance(ev.body, dict) and isinstance(ev.kind, str)


def test_subscriber_drops_a_signed_batch_with_a_malformed_event(pool: Pool,
                                                               tmp_path: Path) -> None:
    """A batch with one bad event is dropped whole (and counted); the stream goes on."""
    from taskscope.pool import subscribe

    key = bytes.fromhex(pool.connection_info()["key"])
    pub = zmq.Context.instance().socket(zmq.PUB)
    endpoint = f"ipc://{tmp_path}/rogue-events"
    pub.bind(endpoint)
    try:
        with subscribe(endpoint, key) as sub:
            codec = Codec(key, "driver")
            bad = codec.encode("events", {"events": [{"kind": "task.finished", "seq": 1,
                                                      "ts": 1.0, "src": "driver",
                                                      "body": {"call": 1}}]})
            deadline = time.monotonic() + TIMEOUT_S
            while sub.dropped == 0:
                pub.send_multipart(bad)
                assert sub.recv(timeout=0.05) == []
                assert time.monotonic() < deadline
    finally:
        pub.close(linger=0)
