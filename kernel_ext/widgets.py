"""anywidget classes: the dashboard and the per-call progress bar (`_esm` + synced traits).

Bulk data (task-stream rectangles, resource samples) does not go through traits: it is sent
as binary deltas in custom messages (docs/state.md), so each update carries only what is new.

The widget code travels once per kernel. anywidget (0.11) sends a widget's `_esm`/`_css` in
every comm_open and imports it again for every model; a progress bar is opened under every
`map` cell, and a big map takes well under a second, so a 15 KB bundle per bar was most of
the comm traffic. Instead, one hidden `_CodeCarrier` model per kernel process (created before
the first taskscope widget, never displayed, kept alive here) carries the whole front end
(static/carrier.js) and the stylesheet; anywidget runs its module when the front end *creates*
the model (on comm_open, and again when a reloaded page restores the kernel's models), and it
registers the real modules page-wide under a hash of the bundle. `Dashboard` and
`CallProgress` carry only static/loader.js (~1 KB), which waits for that registration and
delegates `initialize`/`render` to the real module (js/src/loader.js, registry.js).
An ESM URL (which anywidget also accepts) is not used: it must be an absolute http(s) URL,
the kernel does not know the browser's origin, and the kernel may run in an environment
without the Jupyter server extension that serves taskscope/static/.
All taskscope widgets also share one `Layout` model, so a bar does not open a second comm.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import pathlib
import sys
import threading
import time
from typing import Any

import anywidget
import ipywidgets
import traitlets

from . import _marimo, saved_output
from .collector import DASHBOARD_PUSH_INTERVAL_S, PUSH_INTERVAL_S, Collector, collector_for

__all__ = ["PANES", "CallProgress", "Dashboard", "PopoutLink", "code_carrier", "popout_url"]

log = logging.getLogger("taskscope")
STATIC = pathlib.Path(__file__).parent / "static"
PANES = ("progress", "task-stream", "memory", "workers", "errors", "resources", "graph", "profile")
ERRORS_INTERVAL_S = 1.0  # tracebacks are heavy: resend the error list at most once a second
# What a one-call progress bar draws from the State (js/src/progress-compact.js): its row,
# the clock and the pool's status. The rest (workers, functions, totals) is not sent to it.
CALL_VIEW_KEYS = ("v", "now")
CALL_VIEW_POOL_KEYS = ("name", "status")
# The parts of a call's row that never change (the id keys them).
CALL_INFO_KEYS = ("id", "api", "fn", "module", "file", "line", "callsite", "color", "started")
CARRIER_ESM = STATIC / "carrier.js"
LOADER_ESM = STATIC / "loader.js"
WIDGET_CSS = STATIC / "widget.css"
# Each widget's whole module, for front ends where the hidden carrier never runs (marimo).
STANDALONE_ESM = {"dashboard": STATIC / "widget.js", "progress": STATIC / "progress-widget.js"}


@functools.cache
def _read_static(path: pathlib.Path) -> str:
    return path.read_text(encoding="utf-8")


def standalone_code() -> bool:
    """Whether each widget must carry its own module instead of the ~1 KB loader: where the
    hidden carrier never runs. marimo builds a front-end model only for a widget that is a
    cell's output (kernel_ext/_marimo.py); Colab gives every output its own frame and widget
    manager, which builds only the models that output's views refer to (frontends.md). Both
    load a module once per page or frame however many widgets carry it."""
    return _marimo.running() or "google.colab.output" in sys.modules


@functools.cache
def bundle_key() -> str:
    """A hash of the carrier's code and stylesheet: the page-wide registry key, so kernels
    running different taskscope builds in one page never use each other's code."""
    h = hashlib.sha256()
    for path in (CARRIER_ESM, WIDGET_CSS):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


class _CodeCarrier(anywidget.AnyWidget):
    """The front-end code of every taskscope widget, sent once per kernel (see the module
    docstring). Never displayed; `code_carrier()` keeps it open."""

    _esm = CARRIER_ESM
    _ts_bundle = traitlets.Unicode("").tag(sync=True)
    _ts_css = traitlets.Unicode("").tag(sync=True)

    def __repr__(self) -> str:
        return "<taskscope widget code (hidden)>"


_shared: dict[str, Any] = {}
_shared_lock = threading.RLock()


def _is_open(widget: Any) -> bool:
    return widget is not None and getattr(widget, "comm", None) is not None


def _shared_layout() -> ipywidgets.Layout:
    """One `Layout` model for all taskscope widgets (every DOMWidget otherwise opens its own
    comm for one). Nothing in taskscope changes it; setting ``w.layout.width`` changes all."""
    with _shared_lock:
        layout = _shared.get("layout")
        if not _is_open(layout):
            layout = _shared["layout"] = ipywidgets.Layout()
        return layout


def code_carrier() -> _CodeCarrier:
    """This kernel's code carrier, opened on first use (and again if it was closed, e.g. by
    ``Widget.close_all()``)."""
    with _shared_lock:
        carrier = _shared.get("carrier")
        if not _is_open(carrier):
            carrier = _shared["carrier"] = _CodeCarrier(
                _ts_bundle=bundle_key(), _ts_css=WIDGET_CSS.read_text(encoding="utf-8"),
                layout=_shared_layout())
        return carrier


class Dashboard(anywidget.AnyWidget):
    """The live dashboard of one pool (or, with ``call=``, one call's compact progress bar)."""

    # The loader (the real module comes from the code carrier) and anywidget's id, as class
    # traits: anywidget's __init__ adds both to each instance otherwise, which makes a new
    # class per widget (~1 ms of the kernel's time under every map); see add_traits.
    _esm = traitlets.Unicode().tag(sync=True)
    _anywidget_id = traitlets.Unicode().tag(sync=True)
    _ts_view = traitlets.Unicode("dashboard").tag(sync=True)  # which module draws it
    _ts_bundle = traitlets.Unicode("").tag(sync=True)  # the carrier's registry key

    # The State (docs/state.md) in parts that change at different rates; traitlets only
    # sends a trait whose value changed. `state` is what moves at every push (its `calls`
    # holds the calls still running); `errors` the tracebacks; a bar's `call_info` the
    # parts of its row that never change (CALL_INFO_KEYS). Finished calls do not change
    # either: the dashboard sends each once, in a {"type": "calls"} message (a trait would
    # resend them all whenever one more finished). The JS merges them into one state
    # (js/src/widget-host.js).
    state = traitlets.Dict().tag(sync=True)
    errors = traitlets.List().tag(sync=True)
    graph = traitlets.Dict().tag(sync=True)  # state.graph (state_graph.py), at most once a second
    call_info = traitlets.Dict().tag(sync=True)
    panes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    call = traitlets.Int(None, allow_none=True).tag(sync=True)
    popout_url = traitlets.Unicode("").tag(sync=True)
    frozen = traitlets.Bool(False).tag(sync=True)

    def __init__(self, collector: Collector, *, panes: list[str] | None = None,
                 call: int | None = None, **kwargs: Any) -> None:
        unknown = [p for p in panes or () if p not in PANES]
        if unknown:
            raise ValueError(f"taskscope: unknown pane(s) {unknown}; choose from {list(PANES)}")
        if standalone_code():
            # No carrier: the code and the stylesheet travel with the widget.
            self.add_traits(_css=traitlets.Unicode(_read_static(WIDGET_CSS)).tag(sync=True))
            bundle = ""
            kwargs.setdefault("layout", _shared_layout())
        else:
            carrier = code_carrier()  # opened first, so the front end gets the code first
            bundle = carrier._ts_bundle
            kwargs.setdefault("layout", carrier.layout)
        version = None
        if call is not None:
            # A bar's first state rides in its comm_open: no second message before the map.
            with collector.lock:
                version = collector.state.version
                kwargs["state"], kwargs["call_info"] = split_call_info(
                    collector.state.call_view_json(call, CALL_VIEW_KEYS, CALL_VIEW_POOL_KEYS))
        super().__init__(panes=list(panes or []), call=call, _ts_bundle=bundle, **kwargs)
        self._collector = collector
        self._sent = {"stream": 0, "resources": 0}
        self._errors_version = -1
        self._errors_at = 0.0
        self._graph_version, self._graph_at = -1, 0.0
        self._graph_timer: threading.Timer | None = None
        self._send_lock = threading.Lock()
        self._handles: list[Any] = []  # display handles: where to leave the final snapshot
        self._final_shown = False
        self._snapshot_version, self._snapshot_at = -1, 0.0  # the last snapshot sent
        self._last_calls: list[dict[str, Any]] | None = None
        self._calls_sent: dict[int, dict[str, Any]] = {}  # finished calls the browser has
        if version is not None:
            self._last_calls = self.state["calls"]
        self.on_msg(self._on_custom_msg)
        collector.add_view(self, pushed_version=version)

    @traitlets.default("_esm")
    def _loader_code(self) -> str:
        if standalone_code():
            return _read_static(STANDALONE_ESM[self._ts_view])
        return _read_static(LOADER_ESM)

    @traitlets.default("_anywidget_id")
    def _widget_id(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__}"

    def add_traits(self, **traits: Any) -> None:
        """Add only the traits this class does not declare (see `_esm` above)."""
        missing = {k: v for k, v in traits.items() if not self.has_trait(k)}
        if missing:
            super().add_traits(**missing)

    @classmethod
    def for_pool(cls, pool: Any, **options: Any) -> Dashboard:
        """The dashboard of `pool`; with ``call=<call id>``, that call's compact progress
        bar, as a `CallProgress` (the same view with a much smaller front-end bundle)."""
        if options.get("call") is not None:
            if cls is Dashboard:
                cls = CallProgress
        else:
            options.setdefault("popout_url", popout_url(pool))
        return cls(collector_for(pool, wait_first=True), **options)

    # ---------------------------------------------------------------- kernel -> browser
    def push(self, collector: Collector) -> None:
        """Called by the collector (its thread) when the State changed, and by the magics'
        post-cell hook (main thread). One push at a time per view, from computing the state
        to sending it, so that the browser never gets an older state after a newer one."""
        with self._send_lock:
            self._push(collector)

    def _push(self, collector: Collector) -> None:
        info = calls_msg = graph = None
        with collector.lock:
            st = collector.state
            if self.call is not None:  # a one-call progress bar needs its row only
                state, info = split_call_info(self._call_state(st))
                errors = None
                # A finished bar never changes again: do not resend it the pool's every tick
                # (resource samples alone would otherwise resend each old bar twice a second).
                if self._final_shown and state["calls"] == self._last_calls:
                    return
                self._last_calls = state["calls"]
            else:
                state = st.to_json(include_errors=False)
                now = time.monotonic()
                errors = None
                if st.errors_version != self._errors_version and (
                        now - self._errors_at >= ERRORS_INTERVAL_S or collector.closed.is_set()
                        or st.pool["status"] == "closed"):
                    self._errors_version, self._errors_at = st.errors_version, now
                    errors = list(st.errors)
                graph = self._graph_due(st, now, collector)
                calls_msg = self._finished_calls(state, reset=False)
                state["calls"] = [c for c in state["calls"] if c["status"] == "running"]
            deltas = [] if self.call is not None else self._deltas(collector, reset=False)
        if errors is not None:
            self.errors = errors
        if graph is not None:
            self.graph = graph
        # Finished calls first, so that the browser never sees a call leave `state.calls`
        # before it has its final row.
        if calls_msg is not None:
            self.send(calls_msg)
        with self.hold_sync():  # one message for all changed traits
            if info is not None:
                self.call_info = info
            self.state = state
        for msg, buf in deltas:
            self.send(msg, buffers=[buf] if buf else None)
        if self._handles and not self._final_shown:
            if self._finished(state):
                # A finished map's row (a closed pool's dashboard) never changes again: leave
                # the static snapshot in its outputs and close the widget, so that it is not
                # pushed any more and a saved notebook has no widget to miss.
                self._final_shown = True
                saved_output.leave_static(self)
            else:
                saved_output.refresh_snapshot(self)

    def _graph_due(self, st: Any, now: float, collector: Collector) -> dict[str, Any] | None:
        """The graph part when it changed, at most every ERRORS_INTERVAL_S (up to 5,000
        nodes: too big for every push), at once when the pool closed; else None."""
        g = st.graph
        if g.version == self._graph_version or not g.graph_calls:
            return None
        if now - self._graph_at < ERRORS_INTERVAL_S and not (
                collector.closed.is_set() or st.pool["status"] == "closed"):
            # The collector pushes again only on new events: an idle pool would leave the
            # browser's graph behind, so push once more when the interval is over.
            if self._graph_timer is None or not self._graph_timer.is_alive():
                self._graph_timer = threading.Timer(
                    ERRORS_INTERVAL_S - (now - self._graph_at) + 0.01, self._push_later,
                    args=(collector,))
                self._graph_timer.daemon = True
                self._graph_timer.start()
            return None
        self._graph_version, self._graph_at = g.version, now
        return g.to_json() or {}

    def _push_later(self, collector: Collector) -> None:
        try:
            if self.comm is not None and not self._final_shown:
                self.push(collector)
        except Exception:  # a timer thread: log, never raise
            log.exception("taskscope: could not update the dashboard's graph")

    def _finished_calls(self, state: dict[str, Any], reset: bool) -> dict[str, Any] | None:
        """The {"type": "calls"} message of the finished calls the browser does not have
        yet (or, with `reset`, of all of them); None when there is nothing new."""
        if reset:
            self._calls_sent = {}
        new = []
        for c in state["calls"]:
            # A row the browser holds as finished is resent when it changes, even running
            # again (a Dask task prefix gets new tasks): that row would win otherwise.
            if ((c["status"] != "running" or c["id"] in self._calls_sent)
                    and self._calls_sent.get(c["id"]) != c):
                self._calls_sent[c["id"]] = c
                new.append(c)
        # The State keeps the newest MAX_CALLS calls: the browser drops older ones too.
        oldest = state["calls"][0]["id"] if state["calls"] else None
        for old in [i for i in self._calls_sent if oldest is None or i < oldest]:
            del self._calls_sent[old]
        if not new and not reset:
            return None
        return {"type": "calls", "reset": reset, "oldest": oldest, "calls": new}

    def _call_state(self, st: Any) -> dict[str, Any]:
        """A one-call bar's state (under the collector's lock): its row, not the pool's."""
        return st.call_view_json(self.call, CALL_VIEW_KEYS, CALL_VIEW_POOL_KEYS)

    @property
    def push_interval(self) -> float:
        """Seconds between two pushes from the collector: a progress bar moves at 10 Hz; the
        dashboard's much larger state at 4 Hz."""
        return PUSH_INTERVAL_S if self.call is not None else DASHBOARD_PUSH_INTERVAL_S

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

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        # Not `_handle_msg`: that is ipywidgets' own entry point for every message from the
        # browser (trait changes too); overriding it broke them all, request_full included.
        # Runs on the kernel's main thread, between cells; never raise into the user's cell.
        try:
            kind = content.get("type") if isinstance(content, dict) else None
            if kind in saved_output.RENDERER_MESSAGES:  # taskscope's JupyterLab renderer
                saved_output.on_renderer_message(self, content)
                return
            # A one-call bar draws no ring buffer: never send it the task stream.
            if (isinstance(content, dict) and content.get("type") == "request_full"
                    and self.call is None):
                with self._send_lock:
                    with self._collector.lock:
                        calls = self._finished_calls(self._collector.state.to_json(
                            include_errors=False), reset=True)
                        deltas = self._deltas(self._collector, reset=True)
                    self.send(calls)
                    for msg, buf in deltas:
                        self.send(msg, buffers=[buf] if buf else None)
        except Exception:
            log.exception("taskscope: could not answer the dashboard's request")

    def close(self) -> None:
        # Also runs from Widget.__del__ when __init__ raised (bad `panes=`) before any of
        # this widget's attributes existed: nothing to remove then.
        collector = getattr(self, "_collector", None)
        if collector is not None:
            collector.remove_view(self)
        super().close()

    # ---------------------------------------------------------------- saved notebooks
    def show(self) -> None:
        """Display under the current cell, keeping the handle so that the final state is
        left in the output as static HTML when the call or pool ends."""
        from IPython.display import display

        with self._send_lock:
            if not self._final_shown and self.comm is not None:
                with self._collector.lock:
                    st = self._collector.state
                    state = self._call_state(st) if self.call is not None else st.to_json(False)
                if self._finished(state):
                    # Displayed after its call (pool) ended: nothing will move again, so the
                    # snapshot alone, as a finished widget leaves (no model to go missing).
                    self._final_shown = True
                    self._collector.remove_view(self)
                    display(saved_output.static_bundle(self), raw=True)
                    self.close()
                    return
            data, metadata = self._bundle()
            self._handles.append(display(data, metadata=metadata, raw=True, display_id=True))
            if not self._final_shown and self.comm is not None:
                saved_output.track_displayed(self)

    def _ipython_display_(self, **kwargs: Any) -> None:
        self.show()

    def _bundle(self, html: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        bundle = self._repr_mimebundle_(html=html)
        if isinstance(bundle, tuple):
            return bundle[0], bundle[1]
        return bundle, {}

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        html = kwargs.pop("html", None)
        if self.comm is None or self._final_shown:  # finished and closed: the snapshot only
            return saved_output.static_bundle(self, html)
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if isinstance(data, dict):
            # The snapshot (text/html) for wherever the widget cannot be drawn, and our own
            # view type for taskscope's JupyterLab renderer (kernel_ext/saved_output.py).
            saved_output.live_bundle(self, data, html)
        return bundle


class CallProgress(Dashboard):
    """One call's compact progress bar: the bar shown under every cell that runs a `map`.

    The kernel side is `Dashboard`'s with ``call=`` (the call's row only, no ring buffers);
    the front end is the small progress-bar module (js/src/progress-widget.js), delivered by
    the code carrier like the dashboard's: its comm_open carries only the ~1 KB loader."""

    _ts_view = traitlets.Unicode("progress").tag(sync=True)

    def __init__(self, collector: Collector, *, call: int, **kwargs: Any) -> None:
        if call is None:
            raise ValueError("taskscope: CallProgress needs the id of a call (call=...)")
        kwargs.pop("panes", None)  # one compact row: there are no panes to choose
        super().__init__(collector, call=call, **kwargs)


def split_call_info(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A one-call state without its row's never-changing parts, and those parts (with the
    call's id), for the `call_info` trait: sent once, not with every update of the bar."""
    if not state["calls"]:
        return state, {}
    row = state["calls"][0]
    info = {k: row[k] for k in CALL_INFO_KEYS if k in row}
    moving = {k: v for k, v in row.items() if k not in CALL_INFO_KEYS or k == "id"}
    return {**state, "calls": [moving]}, info


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
