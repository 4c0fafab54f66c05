"""A plain script that runs a pool, for the server-extension tests (not a test module).

    python _pool_script.py NAME N_ITEMS GO_FILE

Creates ``Pool(2, name=NAME)``, prints ``READY <pool id>``, waits until GO_FILE exists (so
the test can connect first), maps a slow function over N_ITEMS items, prints ``DONE`` and
exits after shutting the pool down.
"""
from __future__ import annotations

import os
import sys
import time

from taskscope import Pool


def slow_square(x: int) -> int:
    time.sleep(0.04)
    return x * x


def main() -> None:
    name, n, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with Pool(2, name=name) as pool:
        print("READY", pool.id, flush=True)
        deadline = time.monotonic() + 60
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.05)
        out = pool.map(slow_square, range(n), chunksize=1)
        assert out == [x * x for x in range(n)]
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
