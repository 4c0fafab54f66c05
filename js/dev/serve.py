"""Throw-away dev server for js/dev/: static files from the repo root (so
/js/... and /kernel_ext/static/... resolve) and a websocket at /ws that plays
a live pool for the pop-out page (js/src/page.js framing: a JSON text header
followed by one binary frame of float64 records).

    /work/.venv-dev/bin/python js/dev/serve.py 8765
    open http://127.0.0.1:8765/js/dev/harness.html
    open http://127.0.0.1:8765/js/dev/page.html          (pop-out page)
"""
from __future__ import annotations

import json
import pathlib
import random
import struct
import sys
import time

import tornado.ioloop
import tornado.web
import tornado.websocket

ROOT = pathlib.Path(__file__).resolve().parents[2]
STATE = json.loads((ROOT / "js/test/fixtures/state.json").read_text())


class Live(tornado.websocket.WebSocketHandler):
    """Sends the fixture state, then a stream delta and a new `now` every 100 ms."""

    def open(self) -> None:
        self.first = 0
        self.t = STATE["pool"]["started"] + 1.0
        self.state = json.loads(json.dumps(STATE))
        self.timer = tornado.ioloop.PeriodicCallback(self.tick, 100)
        self.timer.start()
        self.ticks = 0

    def on_message(self, message: str | bytes) -> None:
        msg = json.loads(message)
        if msg.get("type") == "request_full":
            self.send_full()

    def send_full(self) -> None:
        self.write_message(json.dumps({"type": "state", "state": self.state}))
        self.write_message(json.dumps({"type": "stream", "reset": True, "first": 0, "n": 0}))
        self.write_message(json.dumps({"type": "resources", "reset": True, "first": 0, "n": 0}))
        self.first = 0

    def tick(self) -> None:
        self.ticks += 1
        n = 40
        recs = []
        for i in range(n):
            s = self.t + i * 0.0025
            recs += [s, s + 0.009 + random.random() * 0.004, i % 4, 1 if random.random() < 0.7 else 0, 1, 0]
        self.t += 0.1
        self.write_message(json.dumps({"type": "stream", "reset": False, "first": self.first}))
        self.write_message(struct.pack(f"<{len(recs)}d", *recs), binary=True)
        self.first += n
        self.state["now"] = self.t
        if self.ticks % 3 == 0:
            self.write_message(json.dumps({"type": "state", "state": self.state}))
        if self.ticks == 30 and self.get_argument("close", None):
            self.state["pool"]["status"] = "closed"
            self.write_message(json.dumps({"type": "state", "state": self.state}))
        if self.ticks == 40 and self.get_argument("drop", None):
            self.close()

    def on_close(self) -> None:
        self.timer.stop()


class NoCache(tornado.web.StaticFileHandler):
    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "no-store")


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    app = tornado.web.Application([
        (r"/ws", Live),
        (r"/(.*)", NoCache, {"path": str(ROOT), "default_filename": "index.html"}),
    ])
    app.listen(port, address="127.0.0.1")
    print(f"serving {ROOT} on http://127.0.0.1:{port}/js/dev/harness.html", flush=True)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
