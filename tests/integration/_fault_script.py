"""Scripts for tests/integration/test_faults.py (not a test module).

    python _fault_script.py interrupt map|gather|result
        Pool(2); prints ``PIDS <worker pids>``, ``RUNNING`` once a long call runs on both
        workers, ``KeyboardInterrupt`` when SIGINT arrives, then ``REPORT {json}``: the pool's
        status, a next map's results and the State's totals (from the collector).
    python _fault_script.py orphan forkserver|spawn
        Pool(2) running a long map; prints ``INFO {json}`` (pool id, worker pids, ipc dir) and
        ``RUNNING``; the test then kills this process with SIGKILL.
"""
from __future__ import annotations

import json
import sys
import threading
import time

from taskscope.collector import Collector
from taskscope.pool import Pool


def slow(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def square(x: int) -> int:
    return x * x


def announce_when_busy(pool: Pool) -> None:
    """Print RUNNING once a worker runs the call (both of them, if that happens soon)."""
    def run() -> None:
        busy_since = None
        while True:
            busy = sum(1 for w in list(pool._driver.workers.values()) if w.messages)
            if busy and busy_since is None:
                busy_since = time.monotonic()
            if busy >= 2 or (busy_since is not None and time.monotonic() - busy_since > 1):
                break
            time.sleep(0.01)
        print("RUNNING", flush=True)
    threading.Thread(target=run, daemon=True).start()


def interrupt(api: str) -> None:
    with Pool(2) as pool:
        info = pool.connection_info()
        col = Collector(info["events"], info["key"], pool.name)
        pool.map(square, range(4))
        print("PIDS", *[w.pid for w in pool._driver.workers.values()], flush=True)
        announce_when_busy(pool)
        futures = []
        try:
            if api == "map":
                pool.map(slow, [30] * 8, chunksize=1)
            else:
                futures = [pool.submit(slow, 30) for _ in range(2)]
                if api == "gather":
                    pool.gather(futures)
                else:
                    futures[0].result()
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
        else:
            print("NO INTERRUPT", flush=True)
            sys.exit(1)
        for f in futures[1:]:
            pool._interrupted([f])  # the user stops the rest too
        deadline = time.monotonic() + 10
        while col.state.pool["status"] != "interrupted" and time.monotonic() < deadline:
            time.sleep(0.02)
        status_after = col.state.pool["status"]
        nxt = pool.map(square, range(10))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until every item of every call is counted
            with col.lock:
                t = dict(col.state.totals)
                items = sum(c["total"] or 0 for c in col.state.calls.values())
            if t["done"] + t["erred"] + t["cancelled"] == items and t["done"] >= 14:
                break
            time.sleep(0.02)
        print("REPORT", json.dumps({"status_after_interrupt": status_after, "next": nxt,
                                    "totals": t, "items": items, "status_at_end": pool.status}),
              flush=True)
        col.stop()


def orphan(start_method: str) -> None:
    pool = Pool(2, start_method=start_method)
    pool.map(square, range(4))
    print("INFO", json.dumps({"id": pool.id,
                              "workers": [w.pid for w in pool._driver.workers.values()],
                              "ipc_dir": pool._driver.endpoints.dir}), flush=True)
    announce_when_busy(pool)
    pool.map(slow, [30] * 8, chunksize=1)


if __name__ == "__main__":
    {"interrupt": interrupt, "orphan": orphan}[sys.argv[1]](sys.argv[2])
