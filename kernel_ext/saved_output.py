"""What a taskscope output leaves in a saved notebook: never "model not found".

A live widget's output holds three representations::

    application/vnd.jupyter.widget-view+json   the live widget (needs its kernel)
    application/vnd.taskscope.view+json        {model_id, view}: taskscope's own renderer
    text/html                                  the static snapshot (kernel_ext/snapshot.py)

* A finished per-call bar and a closed pool's dashboard are *replaced* by the static
  snapshot alone (`static_bundle`: text/html + text/plain, no widget-view), with
  `update_display_data` from the kernel, and with a ``{"type": "snapshot", "final": true}``
  custom message for JupyterLab, which applies a display update only inside the cell that
  is running it.
  The widget's model is closed then: nothing of it is left to go missing.
* A live one keeps its snapshot current, drawn only when what it shows changed
  (`_signature`): the kernel sends ``{"type": "snapshot", "z": "deflate"}`` with the HTML
  deflated in a binary buffer (a custom message, not a trait, so that nbclient's saved
  widget state does not hold every snapshot again), at most every SNAPSHOT_INTERVAL_S
  while the pool runs, after every cell, and when JupyterLab saves the notebook.
  taskscope's JupyterLab renderer for `application/vnd.taskscope.view+json`
  (js/lab/src/saved.js; it outranks the widget renderer) writes it into the output's
  text/html, so a notebook saved while the kernel runs, or after the kernel was killed,
  holds the last picture. Reopened without the widget's model, that renderer shows the
  snapshot instead of the widget error; with a live model it shows the widget.
* Which channel at the end of a cell depends on the client that ran it
  (kernel_ext/saved_clients.py): one whose renderer announced itself gets the custom
  message from a thread once the kernel is idle, nothing drawn on the main thread; any
  other (nbclient/papermill, VS Code) gets `update_display_data` with the fresh snapshot
  before the kernel reports idle (they apply display updates across cells).
* Where no taskscope renderer runs (nbconvert, GitHub, nbviewer, untrusted notebooks,
  VS Code without a kernel), the text/html is what is shown.
"""
from __future__ import annotations

import logging
import threading
import time
import weakref
import zlib
from typing import Any

from . import saved_clients
from .snapshot import collector_snapshot

__all__ = ["RENDERER_MESSAGES", "SNAPSHOT_INTERVAL_S", "VIEW_MIME", "answer_request",
           "live_bundle", "on_renderer_message", "refresh_snapshot", "send_snapshot",
           "static_bundle", "track_displayed"]

log = logging.getLogger("taskscope")
VIEW_MIME = "application/vnd.taskscope.view+json"
VIEW_MIME_VERSION = 1
# A dashboard snapshot is ~10-60 KB of HTML, ~2-6 KB deflated: every 5 s while the State
# changes keeps what a saved notebook shows at most 5 s old for about 1 KB/s of traffic.
SNAPSHOT_INTERVAL_S = 5.0
_displayed: weakref.WeakSet[Any] = weakref.WeakSet()  # live widgets shown in an output
_hook_lock = threading.Lock()
_hooked: list[Any] = []  # the IPython shell our cell hooks are registered with
# Level 6: a ~30 KB dashboard snapshot deflates to ~3 KB in ~0.4 ms (level 1: 3.4 KB).
DEFLATE_LEVEL = 6


# A live snapshot (redrawn every SNAPSHOT_INTERVAL_S) draws the newest records of the task
# stream only: ~70 ms of the collector thread for 25,000; the final one draws all it kept.
LIVE_STREAM_RECORDS = 25_000


def _snapshot(widget: Any, final: bool = False) -> str:
    return collector_snapshot(widget._collector, widget.call, widget.panes or None,
                              max_records=None if final else LIVE_STREAM_RECORDS)


def _plain(widget: Any) -> str:
    pool = widget._collector.state.pool.get("name", "")
    what = f"progress of call #{widget.call}" if widget.call is not None else "dashboard"
    return f"taskscope {what} of {pool}"


def static_bundle(widget: Any, html: str | None = None) -> dict[str, Any]:
    """The output a finished widget leaves: its snapshot, and no widget to go missing."""
    return {"text/plain": _plain(widget), "text/html": html if html is not None else _snapshot(widget)}


def live_bundle(widget: Any, data: dict[str, Any], html: str | None = None) -> dict[str, Any]:
    """Add the snapshot and taskscope's own view type to a live widget's bundle."""
    data["text/html"] = html if html is not None else _snapshot(widget)
    data["text/plain"] = _plain(widget)
    model_id = data.get("application/vnd.jupyter.widget-view+json", {}).get("model_id")
    if model_id:
        data[VIEW_MIME] = {"v": VIEW_MIME_VERSION, "model_id": model_id,
                           "view": widget._ts_view}
    return data


def track_displayed(widget: Any) -> None:
    """Keep `widget`'s snapshot fresh at the end of every cell from now on."""
    _displayed.add(widget)
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except ImportError:
        return
    if ip is None:
        return
    with _hook_lock:
        if not any(h is ip for h in _hooked):
            ip.events.register("pre_run_cell", _idle.cell_started)
            ip.events.register("post_run_cell", _after_cell)
            _hooked.append(ip)


def send_snapshot(widget: Any, html: str, final: bool = False, reply: Any = None) -> None:
    """The {"type": "snapshot"} message to taskscope's renderer: the HTML deflated in a
    binary buffer (a tenth of the bytes), unless an announced renderer cannot inflate."""
    msg: dict[str, Any] = {"type": "snapshot", "final": final}
    if reply is not None:
        msg["reply"] = reply
    if saved_clients.inflate_ok():
        msg["z"] = "deflate"
        widget.send(msg, buffers=[zlib.compress(html.encode(), DEFLATE_LEVEL)])
    else:
        msg["html"] = html
        widget.send(msg)


def refresh_snapshot(widget: Any, *, force: bool = False, display: bool = False,
                     reply: Any = None) -> bool:
    """Send `widget`'s current snapshot if what it shows changed since the last one and
    SNAPSHOT_INTERVAL_S passed (or `force`); with `display`, also as update_display_data;
    `reply` tags it as the answer to a renderer's request. Returns whether it sent one.
    Never raises (it runs in hooks, comm handlers and threads)."""
    try:
        col = widget._collector
        version = _signature(col.state)
        now = time.monotonic()
        if version == widget._snapshot_version:
            return False
        if not force and now - widget._snapshot_at < SNAPSHOT_INTERVAL_S:
            return False
        widget._snapshot_version, widget._snapshot_at = version, now  # type: ignore[assignment]
        html = _snapshot(widget)
        send_snapshot(widget, html, reply=reply)
        if display:
            for handle in list(widget._handles):
                data, metadata = widget._bundle(html)
                handle.update(data, metadata=metadata, raw=True)
        return True
    except Exception:
        log.exception("taskscope: could not refresh a saved-notebook snapshot")
        return False


def _signature(st: Any) -> tuple[Any, ...]:
    """What a snapshot shows changing: tasks, errors, counts, status, workers. Not the
    resource samples alone (every 0.5 s), so an idle pool sends no new snapshots."""
    t = st.totals
    return (st.stream.total, st.errors_total, t["submitted"], t["done"], t["erred"],
            t["cancelled"], st.pool["status"], len(st.workers), st.gaps)


def _live_displayed() -> list[Any]:
    out = []
    for widget in list(_displayed):
        if getattr(widget, "comm", None) is None or widget._final_shown:
            _displayed.discard(widget)
        else:
            out.append(widget)
    return out


def _refresh_locked(widget: Any, **kw: Any) -> bool:
    # The cell's last events first (they may trail its map by a few ms), outside the send
    # lock: the collector thread pushes this widget under it once it applied them.
    widget._collector.catch_up()
    with widget._send_lock:
        if widget._final_shown or getattr(widget, "comm", None) is None:
            return False
        return refresh_snapshot(widget, force=True, **kw)


_idle = saved_clients.IdleSnapshots(_refresh_locked)


def _after_cell(*_args: Any) -> None:
    """post_run_cell: every live, displayed widget's snapshot as of the end of the cell:
    from a thread once idle for a client with taskscope's renderer; now, on the main
    thread and as a display update too, for any other (module docstring)."""
    widgets = _live_displayed()
    if saved_clients.executing_client_has_renderer():
        _idle.cell_ended(widgets)
        return
    _idle.cell_ended([])
    for widget in widgets:
        _refresh_locked(widget, display=True)


RENDERER_MESSAGES = ("renderer", "request_snapshot")


def on_renderer_message(widget: Any, content: dict[str, Any]) -> None:
    """{"type": "renderer", "inflate"}: the renderer drawing this output announced itself;
    {"type": "request_snapshot", "id"}: it asks for the current snapshot."""
    if content["type"] == "renderer":
        saved_clients.note_renderer(content)
    else:
        answer_request(widget, content)


def answer_request(widget: Any, content: dict[str, Any]) -> None:
    """A renderer asked for the current snapshot (JupyterLab is saving the notebook): send
    it, or, when nothing it shows changed since the last one, a reply without HTML. Runs on
    the main thread, so only when the kernel is idle."""
    reply = content.get("id", 0)
    if not _refresh_locked(widget, reply=reply):
        widget.send({"type": "snapshot", "final": False, "reply": reply})


def leave_static(widget: Any) -> None:
    """The widget finished: replace each of its outputs by the static snapshot, tell the
    front end (for JupyterLab's other cells), and close the model."""
    html = _snapshot(widget, final=True)
    send_snapshot(widget, html, final=True)
    for handle in list(widget._handles):
        handle.update(static_bundle(widget, html), raw=True)
    _displayed.discard(widget)
    widget._collector.remove_view(widget)
    # After the messages above (one IOPub stream, in order): the view is gone, so is the model.
    widget.close()
