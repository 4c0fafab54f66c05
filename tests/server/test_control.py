"""Controls through the server: cancel a call of a pool while its caller is blocked in it."""
from __future__ import annotations

from pathlib import Path

from .conftest import Server


def test_cancel_a_running_call_through_the_server(server: Server, tmp_path: Path) -> None:
    go = tmp_path / "go"
    proc, pool_id = server.start_script("cancel-pool", 2000, go)  # 2000 x 40 ms: ~40 s
    server.wait_for(lambda: any(p["id"] == pool_id for p in server.pools()), what="the pool")
    go.touch()
    # the call runs: wait for some progress, then cancel it
    def progressed() -> bool:
        pool = next(p for p in server.pools() if p["id"] == pool_id)
        return any(c.get("done", 0) > 10 for c in pool.get("calls", []))
    server.wait_for(progressed, what="progress on the call")
    call_id = next(p for p in server.pools() if p["id"] == pool_id)["calls"][0]["id"]

    status, _, _ = server.request(f"taskscope/api/pools/{pool_id}/calls/{call_id}/cancel",
                                  method="POST", auth=False)
    assert status in (302, 403), "a control without login must be refused"

    status, _, body = server.request(f"taskscope/api/pools/{pool_id}/calls/{call_id}/cancel",
                                     method="POST")
    assert status == 202, body
    out, err = proc.communicate(timeout=30)  # the script's map ends well before its 40 s
    assert "TaskCancelledError" in err, err[-2000:]
    assert "DONE" not in out

    status, _, _ = server.request(f"taskscope/api/pools/{'f' * 16}/calls/1/cancel", method="POST")
    assert status == 404
