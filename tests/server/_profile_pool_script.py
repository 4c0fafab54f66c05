"""A plain script that runs a profiling pool, for the pop-out page's profile test (not a test).

    python _profile_pool_script.py NAME N_ITEMS GO_FILE

Creates ``Pool(2, name=NAME, profile=True)``, prints ``READY <pool id>``, waits until GO_FILE
exists, maps `outer` (its time in `hot_helper`) over N_ITEMS items, prints
``PROFILE <samples of the call>`` and exits after shutting the pool down.
"""
from __future__ import annotations

import os
import sys
import time

from taskscope import Pool


def hot_helper(seconds: float) -> int:
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def outer(x: int) -> int:
    return hot_helper(0.04) and x


def main() -> None:
    name, n, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with Pool(2, name=name, profile=True) as pool:
        print("READY", pool.id, flush=True)
        deadline = time.monotonic() + 60
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.map(outer, range(n), chunksize=1) == list(range(n))
        samples = pool.profile(1)["count"]
    print("PROFILE", samples, flush=True)


if __name__ == "__main__":
    main()
