"""A plain script whose pool does all its work before anyone watches (not a test module).

    python _late_pool_script.py NAME STOP_FILE

Creates ``Pool(2, name=NAME)``, runs a map of 2,000 items (chunks of 10), a map that fails
at its fifth item, 20 submits and a diamond of 4 whose results it keeps, then prints ``WORKED <pool id> <json of what it did>`` and
keeps the pool open until STOP_FILE exists (at most 120 s), then shuts it down.
"""
from __future__ import annotations

import json
import os
import sys
import time

from taskscope import Pool


def square(x: int) -> int:
    return x * x


def add(a: int, b: int) -> int:
    return a + b


def picky(x: int) -> int:
    if x == 4:
        raise ValueError(f"picky about {x}")
    return x


def main() -> None:
    name, stop = sys.argv[1], sys.argv[2]
    with Pool(2, name=name) as pool:
        pool.map(square, range(2000), chunksize=10)
        try:
            pool.map(picky, range(40), chunksize=1)
        except ValueError:
            pass
        assert [f.result() for f in [pool.submit(square, i) for i in range(20)]] == \
            [i * i for i in range(20)]
        # A small graph kept live (its results held) for the late joiner's graph pane.
        top = pool.submit(square, 3, key="late-top")
        held = [top, pool.submit(add, top, 1, key="late-left"), pool.submit(add, top, 2, key="late-right")]
        held.append(pool.submit(add, held[1], held[2], key="late-join"))
        assert held[-1].result() == 21
        time.sleep(1.1)  # a few resource samples
        records = pool.task_stream()
        print("WORKED", pool.id, json.dumps({"records": len(records),
                                                "done": sum(r["items"] - r["erred"] for r in records)}), flush=True)
        deadline = time.monotonic() + 120
        while not os.path.exists(stop) and time.monotonic() < deadline:
            time.sleep(0.05)


if __name__ == "__main__":
    main()
