"""A plain script whose pool holds results, fetches one between workers and keeps both
busy, for the live pop-out test of memory by function, transfers and saturation (not a
test module).

    python _memflow_pool_script.py NAME N_ITEMS GO_FILE

Creates ``Pool(2, name=NAME)``, prints ``READY <pool id>``, waits until GO_FILE exists, then
makes two tables (one per worker), joins them (one is fetched: a transfer), maps a nap over
N_ITEMS items, prints ``HELD`` and keeps the results until GO_FILE.stop exists.
"""
from __future__ import annotations

import os
import sys
import time

from taskscope import Pool


def load_table(n: int, delay: float) -> bytearray:
    time.sleep(delay)
    return bytearray(n)


def join_tables(a: bytearray, b: bytearray) -> int:
    return len(a) + len(b)


def nap(s: float) -> float:
    time.sleep(s)
    return s


def wait_for(path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)


def main() -> None:
    name, n, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with Pool(2, name=name) as pool:
        print("READY", pool.id, flush=True)
        pool.map(nap, [0.2, 0.2], chunksize=1)  # both workers up
        wait_for(go)
        a = pool.submit(load_table, 6_000_000, 0.4)
        b = pool.submit(load_table, 4_000_000, 0.4)
        while not (a.done() and b.done()):
            time.sleep(0.02)
        joined = pool.submit(join_tables, a, b)
        assert joined.result(timeout=60) == 10_000_000
        pool.map(nap, [0.15] * n, chunksize=1)
        print("HELD", flush=True)
        wait_for(go + ".stop")
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
