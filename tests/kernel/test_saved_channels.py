"""Which channel a live dashboard's saved-notebook snapshot takes, seen from the wire.

A real kernel (jupyter_client) runs a pool and `display(pool.dashboard())`; this client
then plays each kind of front end (kernel_ext/saved_clients.py):

* a client with no taskscope renderer (nbclient, VS Code): every cell that changed the pool
  ends with an update_display_data holding the fresh snapshot, *before* the kernel's idle;
* once the renderer announced itself ({"type": "renderer"}, as js/src/saved-link.js does in
  JupyterLab), no display update at all: the fresh snapshot comes after idle as one
  deflated custom message, and a cell that did not touch the pool sends none;
* a save's request ({"type": "request_snapshot"}) is answered with the fresh snapshot, or,
  when nothing changed, with a reply carrying no HTML;
* cells run back to back ("Run All") pay one end-of-run snapshot, not one per cell.
"""
from __future__ import annotations

import queue
import re
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from test_kernel_widget import Kernel, Run, anywidget_opens, custom_msgs

pytestmark = pytest.mark.kernel

SETUP = """\
import time
from taskscope import Pool
pool = Pool(2, name="channels")

def square(x):
    time.sleep(0.001)
    return x * x

pool.map(abs, range(10))  # warm the workers up
display(pool.dashboard())
"""
WAIT_AFTER_IDLE_S = 1.5  # the idle snapshot comes ~20 ms after idle (+ drawing) on a busy machine


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kernel]:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    k = Kernel()
    try:
        yield k
    finally:
        k.shutdown()


def dashboard_comm(run: Run) -> str:
    dash = [cid for cid, st in anywidget_opens(run).items() if st.get("call") is None]
    assert len(dash) == 1, anywidget_opens(run)
    return dash[0]


def send_custom(kernel: Kernel, comm_id: str, content: dict[str, Any]) -> None:
    """A custom message from the widget's front end, on this client's session (as the
    browser's widget manager sends it)."""
    kc = kernel.kc
    kc.shell_channel.send(kc.session.msg("comm_msg", {
        "comm_id": comm_id, "data": {"method": "custom", "content": content}}))


def collect(kernel: Kernel, seconds: float) -> list[dict[str, Any]]:
    out, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            out.append(kernel.kc.get_iopub_msg(timeout=0.05))
        except queue.Empty:
            pass
    return out


def snapshots(msgs: list[dict[str, Any]], comm_id: str) -> list[tuple[dict[str, Any], str]]:
    """(message, its HTML inflated) of every snapshot message to the dashboard."""
    out = []
    for content, buffers in custom_msgs(msgs, comm_id):
        if content.get("type") != "snapshot":
            continue
        html = ""
        if content.get("z") == "deflate":
            assert "html" not in content and len(buffers) == 1, content
            html = zlib.decompress(buffers[0]).decode()
        out.append((content, html))
    return out


def display_updates(msgs: list[dict[str, Any]]) -> list[str]:
    return [m["content"]["data"].get("text/html", "") for m in msgs
            if m["msg_type"] == "update_display_data"
            and "tss-root" in m["content"]["data"].get("text/html", "")]


def done_of_fn(html: str, fn: str) -> int:
    """The done count of function `fn`'s row (over all its calls) in a snapshot."""
    found = re.search(rf'class="tss-function" data-fn="{fn}" data-done="(\d+)"', html)
    return int(found.group(1)) if found else -1


def test_snapshot_channel_follows_the_client(kernel: Kernel) -> None:
    dash = dashboard_comm(kernel.ok(SETUP))

    # No renderer announced (nbclient, VS Code): the display update, before idle.
    run = kernel.ok("r = pool.map(square, range(300))")
    before = display_updates(run.before_idle())
    assert len(before) == 1 and done_of_fn(before[0], "square") == 300, before

    # The renderer announces itself; a cell that changes the pool ends without a display
    # update, and its snapshot follows idle, deflated, with the cell's final counts.
    send_custom(kernel, dash, {"type": "renderer", "inflate": True})
    run = kernel.ok("r = pool.map(square, range(400))", linger=WAIT_AFTER_IDLE_S)
    assert display_updates(run.msgs) == []
    before_idle = snapshots(run.before_idle(), dash)
    after_idle = snapshots(run.msgs[run.idle_at:], dash)
    assert len(after_idle) == 1, (before_idle, after_idle)
    assert done_of_fn(after_idle[0][1], "square") == 700
    compressed = [len(b[0]) for c, b in custom_msgs(run.msgs[run.idle_at:], dash)
                  if c.get("type") == "snapshot"][0]
    html_bytes = len(after_idle[0][1].encode())
    assert compressed * 4 < html_bytes, (compressed, html_bytes)
    print(f"\n[kernel] end-of-cell snapshot: {html_bytes} bytes of HTML sent as {compressed} "
          f"deflated ({html_bytes / compressed:.1f}x)")

    # A cell that leaves the pool alone sends no snapshot at all.
    run = kernel.ok("x = sum(range(1000))", linger=WAIT_AFTER_IDLE_S)
    assert snapshots(run.msgs, dash) == [] and display_updates(run.msgs) == []

    # A save asks: nothing changed, so the reply carries no HTML...
    send_custom(kernel, dash, {"type": "request_snapshot", "id": 7})
    got = snapshots(collect(kernel, 1.0), dash)
    assert [(c.get("reply"), html) for c, html in got] == [(7, "")], got
    # ... and after a change (a map whose end-of-cell snapshot has not come yet: the request
    # is queued behind the cell), the reply comes after the fresh picture (as itself, or
    # as the idle snapshot just before it), and the picture is sent once.
    kernel.kc.execute("r = pool.map(square, range(50))")
    send_custom(kernel, dash, {"type": "request_snapshot", "id": 8})
    got = snapshots(collect(kernel, WAIT_AFTER_IDLE_S), dash)
    at = [i for i, (c, _) in enumerate(got) if c.get("reply") == 8]
    assert len(at) == 1, got
    pictures = [html for _, html in got if html]
    assert len(pictures) == 1 and done_of_fn(pictures[0], "square") == 750, got
    assert any(html for _, html in got[: at[0] + 1])


def test_cells_run_back_to_back_pay_one_snapshot(kernel: Kernel) -> None:
    dash = dashboard_comm(kernel.ok(SETUP))
    send_custom(kernel, dash, {"type": "renderer", "inflate": True})
    kernel.ok("r = pool.map(square, range(10))", linger=WAIT_AFTER_IDLE_S)
    cells = 8
    ids = [kernel.kc.execute(f"r = pool.map(square, range({20 + i}))") for i in range(cells)]
    msgs: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        m = kernel.kc.get_iopub_msg(timeout=10)
        msgs.append(m)
        if (m["msg_type"] == "status" and m["content"]["execution_state"] == "idle"
                and m["parent_header"].get("msg_id") == ids[-1]):
            break
    msgs += collect(kernel, WAIT_AFTER_IDLE_S)
    got = snapshots(msgs, dash)
    assert display_updates(msgs) == []
    # The run's last picture is there, counting every map.
    total = 10 + sum(20 + i for i in range(cells))
    assert got and done_of_fn(got[-1][1], "square") == total, [len(h) for _, h in got]
    # One after the run (plus, at most, a periodic one while it ran, or one that a busy
    # machine let slip between two cells): not one per cell.
    assert len(got) <= 3, len(got)
    print(f"\n[kernel] {cells} cells back to back: {len(got)} snapshot message(s)")
