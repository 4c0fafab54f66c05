"""Hostile input on the server's websocket (taskscope/api/pools/<id>/ws): garbage text and
binary frames, broken and deeply nested JSON, unknown requests and oversized frames are
dropped (the connection at most is closed), never take the server or its collector down, and
the pool's key and endpoints never reach a URL, a response or the server's log.

Also fuzzes the handler's input parser with hypothesis.
"""
from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskscope.server.handlers import MAX_CLIENT_MESSAGE, PoolSocketHandler

from .conftest import Server, ws_collect

pytestmark = pytest.mark.slow

GARBAGE: list[Any] = [
    "not json at all",
    "{",
    '{"type": 1}',
    '{"type": "request_full"',  # truncated
    '{"type": "shutdown"}',
    '["request_full"]',
    "null",
    "[" * 50_000 + "]" * 50_000,  # nested past the JSON parser's recursion limit
    '{"type": "request_full", "pad": "' + "x" * 5000 + '"}',  # too long to be the page's
    "\x00\xff\ud7ff",
    b"\x00\x01\x02 binary",
    os.urandom(4096),
    b'{"type": "request_full"}',  # binary: the page sends text
]


async def _hostile_session(url: str, headers: dict[str, str]) -> dict[str, Any]:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import WebSocketClosedError, websocket_connect

    conn = await websocket_connect(HTTPRequest(url, headers=headers, connect_timeout=10),
                                   max_message_size=64 * 2**20)
    out: dict[str, Any] = {"states_after_garbage": 0}
    try:
        first = await asyncio.wait_for(conn.read_message(), 10)
        assert first is not None and json.loads(first)["type"] == "state"
        for i, msg in enumerate(GARBAGE):
            try:
                await conn.write_message(msg, binary=isinstance(msg, bytes))
                await asyncio.sleep(0.05)
            except Exception as exc:
                raise AssertionError(f"garbage message {i} ({msg[:40]!r}) closed the socket") from exc
        # still served: a genuine request gets a full state
        await conn.write_message(json.dumps({"type": "request_full"}))
        while True:
            msg = await asyncio.wait_for(conn.read_message(), 10)
            assert msg is not None, "the server closed the connection"
            if isinstance(msg, str) and json.loads(msg).get("type") == "state":
                out["states_after_garbage"] += 1
                break
        # an oversized frame (over tornado's 10 MiB default): that connection is closed
        try:
            await conn.write_message("x" * (11 * 2**20))
        except WebSocketClosedError:
            pass  # closed by the server while it was still coming in
        while True:
            msg = await asyncio.wait_for(conn.read_message(), 10)
            if msg is None:
                out["close_code"] = conn.close_code
                break
    finally:
        conn.close()
    return out


def test_garbage_on_the_websocket_is_dropped_and_the_server_keeps_serving(
        server: Server, tmp_path: Path) -> None:
    go = tmp_path / "go"
    proc, pool_id = server.start_script("hostile", 40, go)
    server.wait_for(lambda: any(p["id"] == pool_id for p in server.pools()),
                    what="the pool in the list")
    entry = json.loads((server.runtime_dir / f"taskscope-pool-{pool_id}.json").read_text())
    url = f"{server.ws_root}taskscope/api/pools/{pool_id}/ws"
    headers = {"Authorization": f"token {server.token}"}
    out = asyncio.run(_hostile_session(url, headers))
    assert out["states_after_garbage"] == 1
    assert out["close_code"] in (1009, None)  # "message too big" (or dropped mid-frame)
    # the server, its tracker and the pool's collector go on: a new client sees the map run
    go.touch()
    frames = ws_collect(server, pool_id, timeout=30,
                        until=lambda f: bool(f.states) and f.last["totals"]["done"] == 40)
    assert frames.last["totals"]["done"] == 40
    assert proc.wait(30) == 0
    assert server.proc.poll() is None
    # secrets stayed secret: not in the server's log, nor in what it serves
    log = server.log_path.read_text(errors="replace")
    for secret in (entry["key"], entry["events"], os.path.dirname(entry["events"][6:])):
        assert secret not in log
        assert secret not in json.dumps(server.pools(finished=True))


@settings(max_examples=500, deadline=None)
@given(message=st.one_of(st.text(max_size=2000), st.binary(max_size=2000),
                         st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                                      lambda c: st.lists(c) | st.dictionaries(st.text(), c),
                                      max_leaves=20).map(json.dumps)))
def test_websocket_input_parser_never_raises(message: Any) -> None:
    class Fake:
        sent = 0
        parse_request = staticmethod(PoolSocketHandler.parse_request)

        def send_update(self, full: bool = False) -> None:
            self.sent += 1

    fake = Fake()
    before = PoolSocketHandler.dropped
    PoolSocketHandler.on_message(fake, message)  # type: ignore[arg-type]
    wanted = PoolSocketHandler.parse_request(message) == "request_full"
    assert fake.sent == int(wanted)
    assert PoolSocketHandler.dropped == before + (0 if wanted else 1)
    if wanted:
        assert isinstance(message, str) and len(message) <= MAX_CLIENT_MESSAGE
        assert json.loads(message)["type"] == "request_full"


def test_websocket_input_parser_edge_cases() -> None:
    parse = PoolSocketHandler.parse_request
    assert parse('{"type": "request_full"}') == "request_full"
    assert parse(b'{"type": "request_full"}') is None
    assert parse("[" * 100_000) is None
    assert parse("[" * 5000 + "]" * 5000) is None  # too long
    assert parse("[" * 500 + "]" * 500) is None  # parses, but is not a request
