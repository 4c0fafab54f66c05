"""A plain script that keeps a pool busy, for the sidebar browser test (not a test module).

    python _sidebar_pool_script.py NAME STOP_FILE

Creates ``Pool(2, name=NAME)``, prints ``READY <pool id>``, then runs short maps back to
back (so its task stream keeps growing) until STOP_FILE exists or 180 s passed, prints
``DONE`` and exits after shutting the pool down.
"""
from __future__ import annotations

import os
import sys
import time

from taskscope import Pool


def slow_square(x: int) -> int:
    time.sleep(0.05)
    return x * x


def main() -> None:
    name, stop = sys.argv[1], sys.argv[2]
    deadline = time.monotonic() + 180
    with Pool(2, name=name) as pool:
        print("READY", pool.id, flush=True)
        while not os.path.exists(stop) and time.monotonic() < deadline:
            out = pool.map(slow_square, range(16), chunksize=1)
            assert out == [x * x for x in range(16)]
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
