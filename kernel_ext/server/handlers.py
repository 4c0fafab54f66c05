"""Tornado handlers of the taskscope server extension. Every one requires Jupyter's login.

    GET  {base_url}taskscope/api/pools              JSON list of live pools (?finished=1: and
                                                    recently finished ones)
    GET  {base_url}taskscope/pools/<id>             the pop-out page (?panes=a,b: only those)
    WS   {base_url}taskscope/api/pools/<id>/ws      the pool's State (framing: js/src/page.js)
    GET  {base_url}taskscope/static/<file>          the built front end (kernel_ext/static/)
"""
from __future__ import annotations

import html
import json
import pathlib
import time
from typing import Any

from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from .tracker import PoolTracker, TrackedPool, dumps

__all__ = ["STATIC_DIR", "handlers"]

STATIC_DIR = pathlib.Path(__file__).resolve().parent.parent / "static"
# The pane names of taskscope.widgets.PANES (not imported: that module needs anywidget).
PANES = ("progress", "task-stream", "memory", "workers", "errors", "resources", "graph", "profile")
POOL_ID = r"(?P<pool_id>[0-9a-f]{1,64})"
ERRORS_INTERVAL_S = 1.0  # tracebacks are heavy: resend the error list at most once a second
STREAM_WIDTH, RESOURCES_WIDTH = 6, 5
MAX_CLIENT_MESSAGE = 1024  # the page's only message is {"type": "request_full"}


class _TrackerMixin:
    settings: dict[str, Any]

    @property
    def tracker(self) -> PoolTracker:
        return self.settings["taskscope_tracker"]  # type: ignore[no-any-return]


class PoolListHandler(_TrackerMixin, APIHandler):
    @web.authenticated
    def get(self) -> None:
        finished = self.get_argument("finished", "0") not in ("0", "", "false")
        base = self.base_url
        pools = self.tracker.list(include_finished=finished)
        for p in pools:
            p["url"] = url_path_join(base, "taskscope/pools", p["id"])
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(dumps(pools))


class CancelCallHandler(_TrackerMixin, APIHandler):
    """POST: cancel a call of a pool while the notebook cell that runs it is busy (the
    kernel reads widget messages only between cells; this path does not need the kernel)."""

    @web.authenticated
    def post(self, pool_id: str, call_id: str) -> None:
        tracked = self.tracker.get(pool_id)
        if tracked is None:
            raise web.HTTPError(404, f"no pool {pool_id}")
        if not tracked.cancel_call(int(call_id)):
            raise web.HTTPError(409, f"pool {pool_id} has ended")
        self.set_status(202)
        self.finish(dumps({"pool": pool_id, "call": int(call_id), "action": "cancel_call"}))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · taskscope</title>
<link rel="stylesheet" href="{css}" data-taskscope-css="1">
<style>html,body{{margin:0;padding:0}} #taskscope{{padding:8px 12px}}</style>
</head>
<body data-ws-url="{ws}" data-pool-id="{pool_id}" data-panes="{panes}">
<div id="taskscope"></div>
<noscript>The taskscope dashboard needs JavaScript.</noscript>
<script type="module" src="{js}"></script>
</body></html>
"""


def _static_version() -> str:
    try:
        return str(int((STATIC_DIR / "page.js").stat().st_mtime))
    except OSError:
        return "0"


class PoolPageHandler(_TrackerMixin, JupyterHandler):
    @web.authenticated
    def get(self, pool_id: str) -> None:
        tp = self.tracker.get(pool_id)
        wanted = [p for p in self.get_argument("panes", self.get_argument("pane", "")).split(",")
                  if p]
        panes = [p for p in wanted if p in PANES]
        if wanted and not panes:
            raise web.HTTPError(400, f"unknown pane(s); choose from {', '.join(PANES)}")
        # An unknown pool still gets the page: it says so and keeps retrying (the pool may
        # start later, or the server may have restarted since the link was made).
        title = tp.info["name"] if tp is not None else f"pool {pool_id}"
        static = url_path_join(self.base_url, "taskscope/static")
        version = _static_version()
        body = PAGE.format(
            title=html.escape(str(title)),
            css=html.escape(f"{static}/widget.css?v={version}"),
            js=html.escape(f"{static}/page.js?v={version}"),
            ws=html.escape(url_path_join(self.base_url, "taskscope/api/pools", pool_id, "ws")),
            pool_id=html.escape(pool_id),
            panes=html.escape(",".join(panes)),
        )
        self.set_header("Cache-Control", "no-store")
        self.finish(body)


class StaticHandler(JupyterHandler, web.StaticFileHandler):
    """The built front end, behind the login like everything else."""

    @web.authenticated
    def head(self, path: str) -> Any:
        return web.StaticFileHandler.head(self, path)

    @web.authenticated
    def get(self, path: str, include_body: bool = True) -> Any:
        return web.StaticFileHandler.get(self, path, include_body)

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "no-cache")


class PoolSocketHandler(_TrackerMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """Streams one pool's State: a state frame, then stream/resources deltas (header text
    frame + binary records), whenever the State changed; answers {"type": "request_full"}."""

    tracked: TrackedPool | None = None

    def get_compression_options(self) -> Any:
        return self.settings.get("websocket_compression_options", None)

    @ws_authenticated  # no token, no cookie: 403 before the upgrade
    async def get(self, *args: Any, **kwargs: Any) -> None:
        pool_id = kwargs.get("pool_id") or (args[0] if args else "")
        self.tracked = self.tracker.get(pool_id)
        self._sent = {"stream": 0, "resources": 0}
        self._errors_version = -1
        self._errors_at = 0.0
        self._graph_version, self._graph_at = -1, 0.0
        self._writing: Any = None
        self._dirty = False
        self._errors_timer = False
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open()  # WebSocketMixin: keep-alive pings
        if self.tracked is None:
            self._send_json({"type": "error",
                             "message": "This pool is not known to the server: it is not "
                                        "running, or it finished before the server saw it."})
            self.close(4404, "unknown pool")
            return
        self.tracked.sockets.add(self)
        self.send_update(full=True)

    dropped = 0  # client messages ignored (not a known request): all sockets, since start

    def on_message(self, message: str | bytes) -> None:
        """The page sends only ``{"type": "request_full"}``; anything else (binary, not JSON,
        too long, too deeply nested, unknown) is dropped and counted, never acted on."""
        if self.parse_request(message) == "request_full":
            self.send_update(full=True)
        else:
            PoolSocketHandler.dropped += 1

    @staticmethod
    def parse_request(message: Any) -> str | None:
        if not isinstance(message, str) or len(message) > MAX_CLIENT_MESSAGE:
            return None
        try:
            msg = json.loads(message)
        except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deep
            return None
        if isinstance(msg, dict) and msg.get("type") == "request_full":
            return "request_full"
        return None

    def on_close(self) -> None:
        if self.tracked is not None:
            self.tracked.sockets.discard(self)

    # ---------------------------------------------------------------- sending (IOLoop thread)
    def pool_gone(self, message: str) -> None:
        self._send_json({"type": "error", "message": message})
        self.close(4410, "pool gone")

    def _send_json(self, obj: Any) -> None:
        self._write(dumps(obj), binary=False)

    def _write(self, data: str | bytes, binary: bool) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        try:
            self._writing = self.write_message(data, binary=binary)
        except WebSocketClosedError:
            self._writing = None

    def send_update(self, full: bool = False) -> None:
        tp = self.tracked
        if tp is None or self.ws_connection is None:
            return
        if self._writing is not None and not self._writing.done() and not full:
            # a slow client: send the newest state when the previous writes are out
            if not self._dirty:
                self._dirty = True
                self._writing.add_done_callback(lambda _f: self._after_write())
            return
        col = tp.collector
        now = time.monotonic()
        with col.lock:
            st = col.state
            state = st.to_json(include_errors=False)
            closed = st.pool.get("status") in ("closed", "broken")
            if full or (st.errors_version != self._errors_version
                        and (now - self._errors_at >= ERRORS_INTERVAL_S or closed)):
                self._errors_version, self._errors_at = st.errors_version, now
                state["errors"] = list(st.errors)
            graph = st.graph  # (state_graph.py) up to 5,000 nodes: throttled as the errors
            if graph.graph_calls and (full or (graph.version != self._graph_version and (
                    now - self._graph_at >= ERRORS_INTERVAL_S or closed))):
                self._graph_version, self._graph_at = graph.version, now
                state["graph"] = graph.to_json()
            deltas = []
            for name, ring, width in (("stream", st.stream, STREAM_WIDTH),
                                      ("resources", st.resources, RESOURCES_WIDTH)):
                start = 0 if full else self._sent[name]
                first, raw = ring.since(start)
                if raw or full:
                    deltas.append(({"type": name, "reset": full, "first": first,
                                    "n": len(raw) // (8 * width)}, raw))
                self._sent[name] = ring.total
            pending_errors = (st.errors_version != self._errors_version
                              or (bool(graph.graph_calls) and graph.version != self._graph_version))
        state["live"] = tp.live
        self._send_json({"type": "state", "state": state})
        for header, raw in deltas:
            self._send_json(header)
            if raw:
                self._write(raw, binary=True)
        if pending_errors and not self._errors_timer:
            # throttled: make sure they go out even if nothing else changes
            self._errors_timer = True
            tp._loop.call_later(ERRORS_INTERVAL_S, self._errors_due)

    def _errors_due(self) -> None:
        self._errors_timer = False
        self.send_update()

    def _after_write(self) -> None:
        self._dirty = False
        self.tracked._loop.add_callback(self.send_update)  # type: ignore[union-attr]


def handlers(base_url: str) -> list[tuple[str, Any, dict[str, Any]]]:
    def at(path: str) -> str:
        return url_path_join(base_url, path)

    return [
        (at(r"taskscope/api/pools/?"), PoolListHandler, {}),
        (at(rf"taskscope/api/pools/{POOL_ID}/ws"), PoolSocketHandler, {}),
        (at(rf"taskscope/api/pools/{POOL_ID}/calls/(?P<call_id>[0-9]+)/cancel"), CancelCallHandler, {}),
        (at(rf"taskscope/pools/{POOL_ID}/?"), PoolPageHandler, {}),
        (at(r"taskscope/static/(.*)"), StaticHandler, {"path": str(STATIC_DIR)}),
    ]

