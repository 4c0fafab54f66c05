"""A dashboard displayed long after the work, in a real kernel with no `%load_ext` (so
nothing watched the pool from the start, as in Voila or a plain `display(pool.dashboard())`
later): it must show what a dashboard watching from the start shows, i.e. per-function
counts, every kept task-stream record, the errors with tracebacks and the resource history
(the join snapshot's history, pool/history.py). Also for a pool already closed.
"""
from __future__ import annotations

import json
import queue
import time
from typing import Any

import pytest
from test_kernel_widget import Kernel, anywidget_opens, kernel, state_updates  # noqa: F401

pytestmark = pytest.mark.kernel

STREAM_RECORD_BYTES = 6 * 8

WORK = """\
import json, time
from taskscope import Pool
pool = Pool(2, name="late")

def square(x):
    return x * x

def picky(x):
    if x == 4:  # one failure, however many items ran before the call was stopped
        raise ValueError(f"picky about {x}")
    return x

pool.map(square, range(2000), chunksize=10)
try:
    pool.map(picky, range(60), chunksize=1)
except ValueError:
    pass
futures = [pool.submit(square, i) for i in range(30)]
_ = [f.result() for f in futures]
time.sleep(1.2)  # a few resource samples
records = pool.task_stream()
print(json.dumps({"records": len(records),
                  "items": sum(r["items"] for r in records),
                  "functions": sorted({r["function"] for r in records})}))
"""


def request_full(k: Kernel, comm_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """Act as a reloaded page: ask for the rings; returns the reset messages' sizes."""
    kc = k.kc
    kc.shell_channel.send(kc.session.msg("comm_msg", {
        "comm_id": comm_id, "data": {"method": "custom", "content": {"type": "request_full"}}}))
    deadline, resets = time.monotonic() + timeout, {}
    while time.monotonic() < deadline and len(resets) < 3:
        try:
            m = kc.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            continue
        if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id:
            content = m["content"]["data"].get("content") or {}
            if content.get("reset"):
                resets[content["type"]] = (content, sum(len(b) for b in m.get("buffers") or []))
    return resets


def late_dashboard(k: Kernel) -> tuple[dict[str, Any], list[Any], dict[str, Any], str]:
    show = k.ok("dash = pool.dashboard()\ndisplay(dash)", linger=0.6)
    comm_id = next(cid for cid, st in anywidget_opens(show).items() if st.get("call") is None)
    states = state_updates(show.msgs, comm_id)
    assert states, "the late dashboard got no state"
    errors = [m["content"]["data"]["state"]["errors"] for m in show.msgs
              if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
              and "errors" in m["content"]["data"].get("state", {})]
    html = [m["content"]["data"].get("text/html", "") for m in show.msgs
            if m["msg_type"] in ("display_data", "update_display_data")]
    return states[-1], errors[-1] if errors else [], request_full(k, comm_id), html[-1]


@pytest.mark.parametrize("closed_first", [False, True], ids=["live-pool", "closed-pool"])
def test_late_dashboard_shows_the_whole_story(kernel: Kernel, closed_first: bool) -> None:
    expect = json.loads(kernel.ok(WORK, timeout=120).stdout())
    if closed_first:
        kernel.ok("pool.shutdown()")
    state, errors, resets, html = late_dashboard(kernel)

    fns = {f["name"]: f for f in state["functions"]}
    assert set(fns) == {"square", "picky"}, fns
    # Not "0/0": the function rows carry the counts of every call, and the totals add up.
    assert fns["square"]["submitted"] == 2030 and fns["square"]["counts"]["erred"] == 0
    assert fns["picky"]["counts"]["erred"] == 1 and fns["picky"]["submitted"] >= 5
    assert fns["square"]["time"] > 0
    t = state["totals"]
    assert t["done"] + t["erred"] + t["cancelled"] == 2030 + 60
    assert state["stream_total"] == expect["records"] > 200
    assert state["resources_total"] >= 2
    assert errors and errors[-1]["exc_type"] == "ValueError"
    assert "picky about 4" in errors[-1]["message"] and "Traceback" in errors[-1]["traceback"]
    assert state["pool"]["status"] == ("closed" if closed_first else "running")
    workers = state["workers"]
    assert len(workers) == 2 and sum(w["tasks_done"] for w in workers) == expect["items"]
    assert all(w["longest"] for w in workers), workers

    if closed_first:
        # A closed pool's dashboard is left as its static snapshot at once (its model closed,
        # kernel_ext/saved_output.py): the story is in the picture, no page asks for rings.
        assert "picky about 4" in html and "square" in html and "closed" in html
        return
    # A reloaded page asks for the rings: it gets every kept record, not "0 kept".
    assert set(resets) == {"calls", "stream", "resources"}, resets
    stream_msg, stream_bytes = resets["stream"]
    assert stream_bytes == expect["records"] * STREAM_RECORD_BYTES
    assert stream_msg["first"] == 0
    calls_msg, _ = resets["calls"]
    assert {c["fn"] for c in calls_msg["calls"]} == {"square", "picky"}
    kernel.ok("pool.shutdown()")
