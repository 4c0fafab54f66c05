"""anywidget classes: the dashboard and the per-call progress bar (`_esm` + synced traits).

Bulk data (task-stream rectangles, resource samples) does not go through traits: it is sent
as binary deltas in custom messages (docs/state.md), so each update carries only what is new.
"""
from __future__ import annotations

import html
import logging
import pathlib
import threading
import time
from typing import Any

import anywidget
import traitlets

from .collector import Collector, collector_for

__all__ = ["PANES", "CallProgress", "Dashboard", "PopoutLink", "popout_url"]

log = logging.getLogger("taskscope")
STATIC = pathlib.Path(__file__).parent / "static"
PANES = ("progress", "task-stream", "memory", "workers", "errors", "resources")
ERRORS_INTERVAL_S = 1.0  # tracebacks are heavy: resend the error list at most once a second


class Dashboard(anywidget.AnyWidget):
    """The live dashboard of one pool (or, with ``call=``, one call's compact progress bar)."""

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    state = traitlets.Dict().tag(sync=True)
    errors = traitlets.List().tag(sync=True)
    panes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    call = traitlets.Int(None, allow_none=True).tag(sync=True)
    popout_url = traitlets.Unicode("").tag(sync=True)
    frozen = traitlets.Bool(False).tag(sync=True)

    def __init__(self, collector: Collector, *, panes: list[str] | None = None,
                 call: int | None = None, **kwargs: Any) -> None:
        unknown = [p for p in panes or () if p not in PANES]
        if unknown:
            raise ValueError(f"taskscope: unknown pane(s) {unknown}; choose from {list(PANES)}")
        super().__init__(panes=list(panes or []), call=call, **kwargs)
        self._collector = collector
        self._sent = {"stream": 0, "resources": 0}
        self._errors_version = -1
        self._errors_at = 0.0
        self._send_lock = threading.Lock()
        self._handle: Any = None  # the display handle, to leave a final static snapshot
        self._final_shown = False
        self._last_calls: list[dict[str, Any]] | None = None
        self.on_msg(self._handle_msg)
        collector.add_view(self)

    @classmethod
    def for_pool(cls, pool: Any, **options: Any) -> Dashboard:
        """The dashboard of `pool`; with ``call=<call id>``, that call's compact progress
        bar, as a `CallProgress` (the same view with a much smaller front-end bundle)."""
        if options.get("call") is not None:
            if cls is Dashboard:
                cls = CallProgress
        else:
            options.setdefault("popout_url", popout_url(pool))
        return cls(collector_for(pool), **options)

    # ---------------------------------------------------------------- kernel -> browser
    def push(self, collector: Collector) -> None:
        """Called by the collector (its thread) when the State changed, and by the magics'
        post-cell hook (main thread). One push at a time per view, from computing the state
        to sending it, so that the browser never gets an older state after a newer one."""
        with self._send_lock:
            self._push(collector)

    def _push(self, collector: Collector) -> None:
        with collector.lock:
            st = collector.state
            state = st.to_json(include_errors=False)
            if self.call is not None:  # a one-call progress bar needs its row only
                state["calls"] = [c for c in state["calls"] if c["id"] == self.call]
                state["workers"] = []
                errors = None
                # A finished bar never changes again: do not resend it the pool's every tick
                # (resource samples alone would otherwise resend each old bar twice a second).
                if self._final_shown and state["calls"] == self._last_calls:
                    return
                self._last_calls = state["calls"]
            else:
                now = time.monotonic()
                errors = None
                if st.errors_version != self._errors_version and (
                        now - self._errors_at >= ERRORS_INTERVAL_S or collector.closed.is_set()
                        or st.pool["status"] == "closed"):
                    self._errors_version, self._errors_at = st.errors_version, now
                    errors = list(st.errors)
            deltas = [] if self.call is not None else self._deltas(collector, reset=False)
        if errors is not None:
            self.errors = errors
        self.state = state
        for msg, buf in deltas:
            self.send(msg, buffers=[buf] if buf else None)
        if self._handle is not None and not self._final_shown and self._finished(state):
            self._final_shown = True
            data, metadata = self._bundle()
            self._handle.update(data, metadata=metadata, raw=True)

    def _finished(self, state: dict[str, Any]) -> bool:
        if self.call is not None:
            return any(c["status"] != "running" for c in state["calls"])
        return state["pool"]["status"] == "closed"

    def _deltas(self, collector: Collector, reset: bool) -> list[tuple[dict[str, Any], bytes]]:
        out = []
        for name, ring in (("stream", collector.state.stream),
                           ("resources", collector.state.resources)):
            if reset:
                self._sent[name] = 0
            first, raw = ring.since(self._sent[name])
            if raw or reset:
                out.append(({"type": name, "reset": reset, "first": first}, raw))
            self._sent[name] = ring.total
        return out

    def _handle_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        # Runs on the kernel's main thread, between cells; never raise into the user's cell.
        try:
            # A one-call bar draws no ring buffer: never send it the task stream.
            if (isinstance(content, dict) and content.get("type") == "request_full"
                    and self.call is None):
                with self._collector.lock:
                    deltas = self._deltas(self._collector, reset=True)
                with self._send_lock:
                    for msg, buf in deltas:
                        self.send(msg, buffers=[buf] if buf else None)
        except Exception:
            log.exception("taskscope: could not answer the dashboard's request")

    def close(self) -> None:
        self._collector.remove_view(self)
        super().close()

    # ---------------------------------------------------------------- saved notebooks
    def show(self) -> None:
        """Display under the current cell, keeping the handle so that the final state is
        left in the output as static HTML when the call or pool ends."""
        from IPython.display import display

        data, metadata = self._bundle()
        self._handle = display(data, metadata=metadata, raw=True, display_id=True)

    def _ipython_display_(self, **kwargs: Any) -> None:
        self.show()

    def _bundle(self) -> tuple[dict[str, Any], dict[str, Any]]:
        bundle = self._repr_mimebundle_()
        if isinstance(bundle, tuple):
            return bundle[0], bundle[1]
        return bundle, {}

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if isinstance(data, dict):
            # A static picture of the final state for when the kernel (and widget) is gone.
            with self._collector.lock:
                data["text/html"] = static_html(self._collector.state.to_json(), self.call)
        return bundle


class CallProgress(Dashboard):
    """One call's compact progress bar: the bar shown under every cell that runs a `map`.

    The kernel side is `Dashboard`'s with ``call=`` (the call's row only, no ring buffers);
    the front end is a separate, small bundle (kernel_ext/static/progress-widget.js + .css,
    built from js/src/progress-widget.js): anywidget sends `_esm` and `_css` with every
    widget's comm_open, and the dashboard's full bundle is several times larger."""

    _esm = STATIC / "progress-widget.js"
    _css = STATIC / "progress-widget.css"

    def __init__(self, collector: Collector, *, call: int, **kwargs: Any) -> None:
        if call is None:
            raise ValueError("taskscope: CallProgress needs the id of a call (call=...)")
        kwargs.pop("panes", None)  # one compact row: there are no panes to choose
        super().__init__(collector, call=call, **kwargs)


def popout_url(pool: Any) -> str:
    """The pop-out page of a pool on this kernel's Jupyter server, or "" when there is none
    (no server running, or the pool could not register itself)."""
    if getattr(pool, "_registry_finalizer", None) is None:
        return ""
    try:
        from ._popout import find_server, page_url

        return page_url(pool.id) if find_server() is not None else ""
    except Exception:
        log.debug("taskscope: no pop-out URL", exc_info=True)
        return ""


class PopoutLink(anywidget.AnyWidget):
    """A link to a pool's pop-out page (`%taskscope popout`). The URL is relative to the
    Jupyter server's origin; the browser resolves it, so it works behind proxies too."""

    _esm = """
    export default {
      render({ model, el }) {
        const a = document.createElement("a");
        const draw = () => {
          const url = new URL(model.get("url"), location.href).toString();
          a.href = url;
          a.textContent = `Open ${model.get("name")} in a browser tab ↗`;
          a.title = url;
          a.dataset.taskscopePopout = url;
        };
        a.target = "_blank";
        a.rel = "noopener";
        draw();
        model.on("change:url", draw);
        el.append(a);
        return () => model.off("change:url", draw);
      },
    };
    """
    url = traitlets.Unicode("").tag(sync=True)
    name = traitlets.Unicode("").tag(sync=True)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if isinstance(data, dict):
            data["text/plain"] = f"taskscope pop-out page of {self.name}: {self.url}"
        return bundle


def static_html(state: dict[str, Any], call: int | None = None) -> str:
    """A self-contained HTML summary of a State: what a saved notebook shows without a kernel."""
    esc = html.escape
    pool = state.get("pool", {})
    rows = []
    for c in state.get("calls", []):
        if call is not None and c["id"] != call:
            continue
        counts = c["counts"]
        done = counts["released"] + counts["memory"]
        total = c["total"] if c["total"] is not None else c["submitted"]
        pct = 100.0 * done / total if total else 100.0
        rows.append(
            f"<tr><td><code>{esc(c['fn'])}</code> <small>{esc(c['api'])} #{c['id']}</small></td>"
            f"<td style='width:40%'><div style='background:#ddd;height:10px;border-radius:3px'>"
            f"<div style='background:#4c78a8;height:10px;width:{pct:.1f}%;border-radius:3px'>"
            f"</div></div></td><td>{done} / {total}</td><td>{counts['erred']} erred</td>"
            f"<td>{esc(c['status'])}</td></tr>")
    workers = "" if call is not None else (
        f"<p>{len(state.get('workers', []))} workers · {state.get('errors_total', 0)} errors</p>")
    # A per-call bar speaks of its call (done, erred, ...); the dashboard of its pool.
    status = next((c["status"] for c in state.get("calls", []) if c["id"] == call), "") \
        if call is not None else pool.get("status", "")
    return (f"<div class='taskscope-static' data-pool-status='{esc(str(pool.get('status')))}'>"
            f"<b>taskscope · {esc(str(pool.get('name', '')))}</b> "
            f"<small>({esc(str(status))}; static snapshot: run the notebook "
            f"for the live view)</small><table>{''.join(rows)}</table>{workers}</div>")
