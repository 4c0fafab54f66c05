"""A subscriber in its own process, for tests/integration/test_events.py.

Usage: TASKSCOPE_TEST_KEY=<hex> python event_listener.py <endpoint>

Prints ``READY`` once the first event (the snapshot answering its subscription) arrived, then
collects events until it has seen a ``call.ended`` and, after it, a ``worker.samples``; then
prints one JSON line ``{"events": [...], "gaps": n, "dropped": n}`` and exits 0. Exits 2 after
60 s without that. The key comes through the environment: argv is visible to every user.
"""
from __future__ import annotations

import json
import os
import sys
import time

from taskscope.pool import subscribe

TIMEOUT_S = 60.0


def main() -> int:
    endpoint = sys.argv[1]
    key = os.environ["TASKSCOPE_TEST_KEY"]
    events: list[dict] = []
    ready = ended = False
    deadline = time.monotonic() + TIMEOUT_S
    with subscribe(endpoint, key) as sub:
        while time.monotonic() < deadline:
            for ev in sub.recv(timeout=0.2):
                events.append(ev.to_dict())
                if not ready:
                    ready = True
                    print("READY", flush=True)
                if ev.kind == "call.ended":
                    ended = True
                elif ev.kind == "worker.samples" and ended:
                    # A join snapshot's history carries its rings as bytes (protocol 1.3).
                    print(json.dumps({"events": events, "gaps": sub.gaps,
                                      "dropped": sub.dropped},
                                     default=lambda b: {"bytes": len(b)}), flush=True)
                    return 0
    print(f"TIMEOUT after {len(events)} events: {[e['kind'] for e in events][-20:]}",
          file=sys.stderr, flush=True)
    return 2


if __name__ == "__main__":
    sys.exit(main())
