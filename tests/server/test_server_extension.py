"""The server extension against a real Jupyter Server on loopback (see conftest.py)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from .conftest import Server, ws_collect

pytestmark = pytest.mark.slow

N_ITEMS = 60  # 2 workers x 40 ms: ~1.2 s of work, long enough to see counts grow


def _done(state: dict) -> int:
    t = state["totals"]
    return int(t["done"] + t["erred"])


def test_extension_is_enabled_by_the_installed_config(server: Server) -> None:
    status, _, body = server.request("api/pools".join(["taskscope/", ""]))
    assert status == 200, body
    assert json.loads(body) == [] or isinstance(json.loads(body), list)


@pytest.mark.parametrize("path", ["taskscope/api/pools", "taskscope/pools/0123abcd",
                                  "taskscope/static/page.js"])
def test_http_refused_without_auth(server: Server, path: str) -> None:
    status, headers, _ = server.request(path, auth=False)
    assert status in (302, 403), status
    if status == 302:
        assert "/login" in headers["Location"]
    assert server.request(path)[0] == 200


def test_websocket_refused_without_auth(server: Server) -> None:
    with pytest.raises(HTTPClientError) as err:
        ws_collect(server, "0123abcd", auth=False, timeout=3)
    assert err.value.code == 403


def test_unknown_pool_websocket_says_so(server: Server) -> None:
    frames = ws_collect(server, "0123abcd", timeout=5)
    assert frames.errors and "not known" in frames.errors[0]
    assert frames.close_code == 4404


def test_page_and_static_files(server: Server) -> None:
    status, _, body = server.request("taskscope/pools/0123abcd?panes=task-stream")
    assert status == 200
    page = body.decode()
    assert 'data-pool-id="0123abcd"' in page
    assert 'data-ws-url="/user/tester/taskscope/api/pools/0123abcd/ws"' in page
    assert 'data-panes="task-stream"' in page
    assert "/user/tester/taskscope/static/page.js" in page
    assert server.request("taskscope/pools/0123abcd?panes=nope")[0] == 400
    for name in ("page.js", "widget.css"):
        status, _, body = server.request(f"taskscope/static/{name}")
        assert status == 200 and body
    assert server.request("taskscope/static/../__init__.py")[0] in (403, 404)


def test_script_pool_lifecycle(server: Server, tmp_path: Path) -> None:
    go = tmp_path / "go"
    t0 = time.monotonic()
    proc, pool_id = server.start_script("script-pool", N_ITEMS, go)

    # 1. it appears in the list, as a script, with its workers
    entry = server.wait_for(
        lambda: next((p for p in server.pools() if p["id"] == pool_id), None), what="the pool")
    assert entry["name"] == "script-pool"
    assert entry["origin"] == "script"
    assert entry["pid"] == proc.pid
    assert entry["n_workers"] == 2
    assert entry["live"] is True
    assert entry["url"] == f"/user/tester/taskscope/pools/{pool_id}"
    assert "key" not in entry and "events" not in entry

    # the registry file: private, and its key goes nowhere the server shows
    reg = server.runtime_dir / f"taskscope-pool-{pool_id}.json"
    assert stat.S_IMODE(reg.stat().st_mode) == 0o600
    key = json.loads(reg.read_text())["key"]
    assert len(key) >= 32

    # 2. its websocket streams the State with growing counts until the pool closes
    frames = ws_collect(server, pool_id, on_open=go.touch, timeout=30,
                        until=lambda f: f.last["pool"]["status"] == "closed"
                        and _done(f.last) == N_ITEMS)
    done_seen = [_done(s) for s in frames.states]
    assert done_seen == sorted(done_seen), "counts went backwards"
    assert len({d for d in done_seen if 0 < d < N_ITEMS}) >= 2, done_seen
    assert frames.last["pool"]["status"] == "closed"
    assert frames.last["calls"][-1]["fn"] == "slow_square"
    assert frames.stream_records >= 1
    assert frames.resets >= 1  # the answer to request_full

    # 3. the script ends: the pool leaves the list but its final state stays served
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "DONE" in out
    server.wait_for(lambda: all(p["id"] != pool_id for p in server.pools()),
                    what="the pool to leave the list")
    assert not reg.exists()
    finished = [p for p in server.pools(finished=True) if p["id"] == pool_id]
    assert finished and finished[0]["live"] is False
    assert finished[0]["progress"]["finished"] == N_ITEMS
    status, _, page = server.request(f"taskscope/pools/{pool_id}")
    assert status == 200 and f'data-pool-id="{pool_id}"'.encode() in page
    final = ws_collect(server, pool_id, timeout=10, until=lambda f: f.resets >= 2)
    assert final.last["pool"]["status"] == "closed"
    assert _done(final.last) == N_ITEMS
    assert final.last["live"] is False
    assert final.stream_records >= 1

    # 4. the key never reached a URL, a response or the server's log
    time.sleep(0.2)
    log = server.log_path.read_text(errors="replace")
    assert key not in log
    for path in ("taskscope/api/pools?finished=1", f"taskscope/pools/{pool_id}"):
        assert key.encode() not in server.request(path)[2]
    print(f"script pool lifecycle took {time.monotonic() - t0:.1f}s")


def test_stale_registry_file_is_pruned(server: Server) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale_id = "dead" + os.urandom(4).hex()
    path = server.runtime_dir / f"taskscope-pool-{stale_id}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"v": 1, "id": stale_id, "name": "ghost", "pid": dead.pid, "origin": "script",
                   "events": "ipc:///nonexistent/events", "key": "00" * 32,
                   "started": time.time(), "n_workers": 1}, f)
    server.wait_for(lambda: not path.exists(), what="the stale file to be pruned")
    assert all(p["id"] != stale_id for p in server.pools(finished=True))
