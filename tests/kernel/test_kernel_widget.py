"""taskscope inside a real IPython kernel, seen from the wire (jupyter_client).

What a front end receives on iopub when a notebook uses taskscope:

* ``%load_ext taskscope`` + ``pool.map`` opens an anywidget comm (the per-call progress bar)
  and sends ``comm_msg`` state updates *while the cell is still executing*, with growing
  counts, and the final exact counts before the cell ends;
* ``display(pool.dashboard())`` gets the task stream and resource samples as binary buffers
  (custom messages, float64 records; docs/state.md);
* the display's text/html fallback is updated (``update_display_data``) to the final counts,
  which is what a saved notebook shows without a kernel;
* ``%taskscope --help`` and ``%taskscope nosuchpool`` answer in plain text.

It also measures (prints, does not assert tightly) the comm traffic towards the browser.

Run:  .venv/bin/python -m pytest -m kernel -s tests/kernel
"""
from __future__ import annotations

import json
import queue
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

jupyter_client = pytest.importorskip("jupyter_client")

pytestmark = pytest.mark.kernel

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
STREAM_WIDTH, RESOURCE_WIDTH = 6, 5  # float64 per record (docs/state.md)


@dataclass
class Run:
    """The iopub messages of one execution, in arrival order."""

    msgs: list[dict[str, Any]] = field(default_factory=list)
    reply: dict[str, Any] = field(default_factory=dict)
    idle_at: int = -1  # index in msgs of this execution's status: idle
    t_start: float = 0.0
    t_idle: float = 0.0

    def before_idle(self) -> list[dict[str, Any]]:
        return self.msgs[: self.idle_at] if self.idle_at >= 0 else list(self.msgs)

    def of_type(self, msg_type: str, msgs: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        return [m for m in (self.msgs if msgs is None else msgs) if m["msg_type"] == msg_type]

    def stdout(self) -> str:
        return "".join(m["content"]["text"] for m in self.of_type("stream")
                       if m["content"]["name"] == "stdout")

    def errors(self) -> list[dict[str, Any]]:
        return self.of_type("error")


class Kernel:
    def __init__(self) -> None:
        self.km = jupyter_client.KernelManager(kernel_name="python3")
        self.km.start_kernel()
        self.kc = self.km.blocking_client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def execute(self, code: str, *, timeout: float = 60, linger: float = 0.0) -> Run:
        """Run `code`; collect iopub until its idle status, then `linger` seconds more."""
        run = Run(t_start=time.monotonic())
        msg_id = self.kc.execute(code)
        deadline = time.monotonic() + timeout
        while True:
            if run.idle_at >= 0 and time.monotonic() - run.t_idle >= linger:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"no idle after {timeout} s for {code!r}")
            try:
                msg = self.kc.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                continue
            msg["_t"] = time.monotonic()
            run.msgs.append(msg)
            if (msg["msg_type"] == "status" and msg["parent_header"].get("msg_id") == msg_id
                    and msg["content"]["execution_state"] == "idle" and run.idle_at < 0):
                run.idle_at, run.t_idle = len(run.msgs) - 1, msg["_t"]
        while run.reply.get("parent_header", {}).get("msg_id") != msg_id:
            run.reply = self.kc.get_shell_msg(timeout=timeout)  # skips kernel_info replies
        return run

    def ok(self, code: str, **kwargs: Any) -> Run:
        run = self.execute(code, **kwargs)
        assert run.reply["content"]["status"] == "ok", (code, run.reply["content"],
                                                         [m["content"] for m in run.errors()])
        return run

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    """A fresh kernel per test (each test's pool and workers end with it)."""
    k = Kernel()
    try:
        yield k
    finally:
        k.shutdown()


SETUP = """\
%load_ext taskscope
import time
from taskscope import Pool
pool = Pool(2, name="kt")

def work(x):
    time.sleep(0.002)
    return x * x

pool.map(abs, range(10))  # warm the workers up
"""


# ------------------------------------------------------------------------------ helpers
def anywidget_opens(run: Run) -> dict[str, dict[str, Any]]:
    """comm_id -> initial state of every taskscope anywidget opened in this run."""
    out = {}
    for m in run.of_type("comm_open"):
        state = m["content"]["data"].get("state", {})
        if state.get("_anywidget_id") in ("taskscope.widgets.Dashboard",
                                          "taskscope.widgets.CallProgress"):
            out[m["content"]["comm_id"]] = state
    return out


def carrier_opens(run: Run) -> list[dict[str, Any]]:
    """The initial states of the code carriers opened in this run."""
    return [m["content"]["data"]["state"] for m in run.of_type("comm_open")
            if m["content"]["data"]["state"].get("_anywidget_id")
            == "taskscope.widgets._CodeCarrier"]


def state_updates(msgs: list[dict[str, Any]], comm_id: str) -> list[dict[str, Any]]:
    """The `state` trait values sent to one widget, in order."""
    out = []
    for m in msgs:
        if m["msg_type"] != "comm_msg" or m["content"]["comm_id"] != comm_id:
            continue
        data = m["content"]["data"]
        if data.get("method") == "update" and "state" in data.get("state", {}):
            out.append(data["state"]["state"])
    return out


def call_row(state: dict[str, Any], call_id: int) -> dict[str, Any] | None:
    return next((c for c in state["calls"] if c["id"] == call_id), None)


def done_of(row: dict[str, Any]) -> int:
    return row["counts"]["released"] + row["counts"]["memory"]


def custom_msgs(msgs: list[dict[str, Any]], comm_id: str) -> list[tuple[dict[str, Any], list[bytes]]]:
    out = []
    for m in msgs:
        if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id:
            data = m["content"]["data"]
            if data.get("method") == "custom":
                out.append((data["content"], [bytes(b) for b in m.get("buffers") or []]))
    return out


def msg_bytes(m: dict[str, Any]) -> int:
    """Approximate bytes of one iopub message as relayed to the browser: JSON + buffers."""
    body = {k: m[k] for k in ("header", "parent_header", "metadata", "content")}
    return len(json.dumps(body, default=str)) + sum(len(b) for b in m.get("buffers") or [])


# ------------------------------------------------------------------------------ tests
def test_progress_bar_updates_live_while_the_cell_runs(kernel: Kernel) -> None:
    kernel.ok(SETUP)
    n = 1500  # ~1.5 s of work on 2 workers: many updates at 10 per second
    run = kernel.ok(f"r = pool.map(work, range({n}))\nlen(r)", linger=0.5)

    opens = anywidget_opens(run)
    bars = {cid: st for cid, st in opens.items() if st.get("call") is not None}
    assert len(bars) == 1, f"expected one per-call progress bar, got {opens.keys()}"
    comm_id, initial = next(iter(bars.items()))
    call_id = initial["call"]
    # The per-call bar (one per `map` cell) carries only the small loader: the real code came
    # once, with the kernel's code carrier (SETUP's warm-up map opened it).
    assert initial["_anywidget_id"] == "taskscope.widgets.CallProgress", initial["_anywidget_id"]
    assert initial["_ts_view"] == "progress" and initial["_ts_bundle"]
    assert "_css" not in initial
    bar_bytes = len(initial["_esm"])
    print(f"\n[kernel] per-call progress bar comm_open carries {bar_bytes} bytes of JS")
    assert bar_bytes < 2048, bar_bytes
    assert not carrier_opens(run), "the code carrier is sent once per kernel, not per call"
    assert not [m for m in run.of_type("comm_open")
                if m["content"]["data"]["state"].get("_model_name") == "LayoutModel"], \
        "taskscope widgets share one Layout model"

    # Live: state updates arrive while the cell is still executing (before its idle status).
    live = [call_row(s, call_id) for s in state_updates(run.before_idle(), comm_id)]
    live = [r for r in live if r is not None]
    dones = [done_of(r) for r in live]
    print(f"\n[kernel] progress bar updates before idle: {len(live)}; done values: {dones}")
    assert len(live) >= 4, f"too few live updates before the cell ended: {dones}"
    assert dones == sorted(dones), f"done counts went backwards: {dones}"
    assert any(0 < d < n for d in dones), f"no intermediate progress was sent: {dones}"
    assert len({d for d in dones if d < n}) >= 3, f"progress did not grow in steps: {dones}"
    assert all(r["total"] == n for r in live)

    # ...and the final, exact counts arrive before the cell ends (post_run_cell flush).
    final = live[-1]
    assert (done_of(final), final["total"], final["status"]) == (n, n, "done"), final
    assert final["counts"]["erred"] == 0
    execute_result = run.of_type("execute_result", run.before_idle())
    assert execute_result and execute_result[0]["content"]["data"]["text/plain"] == str(n)

    # The display's text/html fallback is replaced with the final counts (saved notebooks).
    displays = [m for m in run.of_type("display_data")
                if m["content"]["data"].get(WIDGET_MIME, {}).get("model_id") == comm_id]
    assert len(displays) == 1
    display_id = displays[0]["content"]["transient"]["display_id"]
    updates = [m for m in run.of_type("update_display_data", run.before_idle())
               if m["content"]["transient"]["display_id"] == display_id]
    assert updates, "no update_display_data with the final snapshot before the cell ended"
    final_data = updates[-1]["content"]["data"]
    html = final_data["text/html"]
    assert f'data-done="{n}" data-total="{n}"' in html and ">done<" in html, html
    # A finished bar leaves the snapshot alone: no widget for a saved notebook to miss, and
    # its model is closed (kernel_ext/saved_output.py).
    assert WIDGET_MIME not in final_data and "application/vnd.taskscope.view+json" not in final_data
    assert [m for m in run.of_type("comm_close") if m["content"]["comm_id"] == comm_id]

    # A finished bar is not resent on every pool tick (resource samples keep coming).
    after = state_updates(run.msgs[run.idle_at:], comm_id)
    assert len(after) <= 1, f"{len(after)} updates to a finished bar after the cell ended"
    kernel.ok("pool.shutdown()")


def test_code_carrier_once_per_kernel(kernel: Kernel) -> None:
    """The widget code and stylesheet travel once, in one hidden carrier opened before the
    first taskscope widget; the widgets name its bundle and carry only the loader."""
    first = kernel.ok(SETUP)
    carriers = carrier_opens(first)
    assert len(carriers) == 1, carriers
    carrier = carriers[0]
    assert len(carrier["_esm"]) > 20_000 and ".ts-root" in carrier["_ts_css"]
    opens = first.of_type("comm_open")
    ids = [m["content"]["data"]["state"].get("_anywidget_id") for m in opens]
    assert ids.index("taskscope.widgets._CodeCarrier") < ids.index("taskscope.widgets.CallProgress")
    bar = next(st for st in anywidget_opens(first).values())
    assert bar["_ts_bundle"] == carrier["_ts_bundle"]
    assert bar["layout"] == carrier["layout"], "one shared Layout model"

    dash = kernel.ok("display(pool.dashboard())\npool.map(abs, range(10))")
    assert not carrier_opens(dash)
    views = sorted(st["_ts_view"] for st in anywidget_opens(dash).values())
    assert views == ["dashboard", "progress"], views
    assert all(len(st["_esm"]) < 2048 for st in anywidget_opens(dash).values())

    # Closed (e.g. Widget.close_all()): the next widget opens a new carrier.
    again = kernel.ok("import ipywidgets\nipywidgets.Widget.close_all()\npool.map(abs, range(10))")
    assert len(carrier_opens(again)) == 1
    kernel.ok("pool.shutdown()")


def test_browser_messages_reach_the_dashboard(kernel: Kernel) -> None:
    """What a (re)loaded page sends: {"type": "request_full"} is answered with every finished
    call and the whole rings (reset messages), and a trait change (the Freeze button) reaches
    the kernel."""
    kernel.ok(SETUP)
    show = kernel.ok("dash = pool.dashboard()\ndisplay(dash)\npool.map(abs, range(300))", linger=0.3)
    dash = next(cid for cid, st in anywidget_opens(show).items() if st.get("call") is None)
    kc = kernel.kc
    for data in ({"method": "custom", "content": {"type": "request_full"}},
                 {"method": "update", "state": {"frozen": True}, "buffer_paths": []}):
        kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": dash, "data": data}))
    deadline, resets, finished = time.monotonic() + 5, {}, []
    while time.monotonic() < deadline and len(resets) < 3:
        try:
            m = kc.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            continue
        if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == dash:
            content = m["content"]["data"].get("content") or {}
            if content.get("reset"):
                resets[content["type"]] = sum(len(b) for b in m.get("buffers") or [])
                finished = content.get("calls", finished)
    assert set(resets) == {"calls", "stream", "resources"}, resets
    assert [(c["total"], c["status"]) for c in finished][-1] == (300, "done"), finished
    assert resets["stream"] > 0 and resets["stream"] % (8 * STREAM_WIDTH) == 0
    assert "True" in kernel.ok("print(dash.frozen)").stdout()
    kernel.ok("pool.shutdown()")


def test_dashboard_gets_binary_task_stream(kernel: Kernel) -> None:
    kernel.ok(SETUP)
    show = kernel.ok("dash = pool.dashboard()\ndisplay(dash)")
    dash_ids = [cid for cid, st in anywidget_opens(show).items() if st.get("call") is None]
    assert len(dash_ids) == 1
    dash = dash_ids[0]
    n = 3000
    run = kernel.ok(f"r = pool.map(work, range({n}))", linger=1.0)
    msgs = show.msgs + run.msgs

    stream = [(c, b) for c, b in custom_msgs(msgs, dash) if c["type"] == "stream"]
    resources = [(c, b) for c, b in custom_msgs(msgs, dash) if c["type"] == "resources"]
    assert len(stream) >= 3, "expected several task-stream deltas during the map"
    assert custom_msgs(run.before_idle(), dash), "no binary delta while the cell was running"

    records = []
    expected_first = None
    for content, bufs in stream:
        assert set(content) >= {"type", "reset", "first"}
        if not bufs:
            continue
        assert len(bufs) == 1
        raw = bufs[0]
        assert len(raw) % (8 * STREAM_WIDTH) == 0, len(raw)
        k = len(raw) // (8 * STREAM_WIDTH)
        if expected_first is not None and not content["reset"]:
            assert content["first"] == expected_first, "deltas must be contiguous"
        expected_first = content["first"] + k
        vals = struct.unpack(f"<{k * STREAM_WIDTH}d", raw)
        records += [vals[i:i + STREAM_WIDTH] for i in range(0, len(vals), STREAM_WIDTH)]
    assert records, "no task-stream records"
    for start, end, worker, color, count, flags in records:
        assert end >= start > 0
        assert worker in (0.0, 1.0)
        assert color >= 0 and count >= 1 and flags == 0
    # Every item of both maps is in exactly one rectangle (the ring is far from full).
    assert sum(r[4] for r in records) == 10 + n

    for _content, bufs in resources:
        for raw in bufs:
            assert len(raw) % (8 * RESOURCE_WIDTH) == 0

    # The dashboard's JSON state agrees, and its static fallback counts all calls.
    final = state_updates(msgs, dash)[-1]
    # Finished calls travel in {"type": "calls"} messages (`state.calls` holds the running
    # ones), each call once: not resent when another one finishes, nor with every update.
    sent = [c for content, _ in custom_msgs(msgs, dash) if content["type"] == "calls"
            for c in content["calls"]]
    assert [c["total"] for c in sent] == [10, n], sent
    assert all(c["status"] == "done" for c in sent) and not final["calls"]
    assert final["stream_total"] == len(records)
    assert final["totals"]["done"] == 10 + n
    assert len(final["workers"]) == 2 and all(w["rss"] > 0 for w in final["workers"])
    kernel.ok("pool.shutdown()", linger=0.3)


def test_comm_traffic_rate_with_dashboard(kernel: Kernel) -> None:
    """Measure what taskscope sends towards the browser during a ~3 s map (printed)."""
    kernel.ok(SETUP + "display(pool.dashboard())")
    n = 3000  # tiny tasks: the worst case for per-task diagnostics
    run = kernel.ok(f"r = pool.map(work, range({n}))")
    seconds = run.t_idle - run.t_start
    by_kind: dict[str, int] = {}
    for m in run.before_idle():
        if m["msg_type"] not in ("comm_msg", "comm_open", "display_data", "update_display_data"):
            continue
        kind = m["msg_type"]
        if kind == "comm_msg":
            data = m["content"]["data"]
            kind = f"custom:{data['content']['type']}" if data.get("method") == "custom" else "update"
        by_kind[kind] = by_kind.get(kind, 0) + msg_bytes(m)
    total = sum(by_kind.values())
    print(f"\n[kernel] comm traffic during a {n}-item map over {seconds:.2f} s with the dashboard "
          f"and a progress bar: {total / seconds / 1024:.1f} KiB/s ({total} bytes)")
    for kind, b in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        print(f"[kernel]   {kind:<22} {b:>9} bytes  {b / seconds / 1024:7.1f} KiB/s")
    # Loose sanity bound only: ten updates a second should stay far below this.
    assert total / seconds < 2_000_000
    kernel.ok("pool.shutdown()")


def test_finished_bars_stop_being_pushed(kernel: Kernel) -> None:
    """A finished map's bar is left at its final state and leaves the collector: the
    collector's work per update does not grow with the number of maps a notebook ran."""
    kernel.ok(SETUP + "display(pool.dashboard())")
    for _ in range(3):
        run = kernel.ok("pool.map(abs, range(100))")
        assert len(anywidget_opens(run)) == 1, "one progress bar per map"
    out = kernel.ok("from taskscope.collector import collector_for\n"
                    "print(sorted(type(v).__name__ for v in collector_for(pool)._views))")
    assert "['Dashboard']" in out.stdout(), out.stdout()
    kernel.ok("pool.shutdown()")


def test_magic_help_and_unknown_pool(kernel: Kernel) -> None:
    kernel.ok("%load_ext taskscope")
    help_run = kernel.ok("%taskscope --help")
    text = help_run.stdout()
    assert "%taskscope NAME" in text and "--panes" in text and "list" in text, text

    none_run = kernel.ok("%taskscope")
    assert "no live pool" in none_run.stdout()

    kernel.ok("from taskscope import Pool\npool = Pool(1, name='only')")
    bad = kernel.ok("%taskscope nosuchpool")
    out = bad.stdout()
    assert "no live pool named 'nosuchpool'" in out and "only" in out, out
    assert not bad.errors()
    listed = kernel.ok("%taskscope list")
    assert "only" in listed.stdout()
    wrong_pane = kernel.ok("%taskscope --panes nosuchpane")
    assert "unknown pane" in wrong_pane.stdout()
    kernel.ok("pool.shutdown()")


def test_the_graph_pane_gets_the_graph_in_its_own_trait(kernel: Kernel) -> None:
    """`pool.dashboard(panes=["graph"])`: the submitted tasks' graph (state.graph,
    docs/state.md) arrives as the `graph` trait, not in every `state` push."""
    kernel.ok(SETUP)
    show = kernel.ok(
        "dash = pool.dashboard(panes=['graph'])\ndisplay(dash)\n"
        "a = pool.submit(work, 3, key='a')\nb = pool.submit(work, a)\nb.result()", linger=1.5)
    dash, initial = next((cid, st) for cid, st in anywidget_opens(show).items()
                         if st.get("call") is None)
    assert initial["panes"] == ["graph"]
    graphs = [m["content"]["data"]["state"]["graph"] for m in show.of_type("comm_msg")
              if m["content"]["comm_id"] == dash and "graph" in m["content"]["data"].get("state", {})]
    assert graphs, "no graph trait update reached the front end"
    g = graphs[-1]
    assert g["mode"] == "tasks" and len(g["nodes"]["id"]) == 2 and g["nodes"]["edges"] == [0, 1]
    assert {x["fn"] for x in g["groups"]} == {"work"}
    assert all("graph" not in m["content"]["data"]["state"].get("state", {})
               for m in show.of_type("comm_msg") if m["content"]["comm_id"] == dash
               and "state" in m["content"]["data"].get("state", {}))
    kernel.ok("pool.shutdown()")
