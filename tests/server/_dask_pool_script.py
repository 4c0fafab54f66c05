"""A plain script that runs a Pool on a Dask LocalCluster, for the pop-out page test.

    python _dask_pool_script.py NAME GO_FILE

Starts a loopback LocalCluster (2 workers x 1 thread), makes ``Pool(cluster=cluster)``,
prints ``READY <pool id>``, waits until GO_FILE exists, then runs a map of slow items (one of
which fails), a few submits, prints ``DONE`` and waits for ``GO_FILE.end`` (so the page can
be looked at) before shutting down.
"""
from __future__ import annotations

import os
import sys
import time

from distributed import LocalCluster

from taskscope import Pool


def slow_inverse(x: int) -> float:
    time.sleep(0.05)
    return 1 / (x - 13)  # item 13 fails: ZeroDivisionError


def wait_for(path: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)


def main() -> None:
    name, go = sys.argv[1], sys.argv[2]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0",
                      worker_dashboard_address="127.0.0.1:0") as cluster:
        pool = Pool(cluster=cluster, name=name)
        print("READY", pool.id, flush=True)
        wait_for(go)
        try:
            pool.map(slow_inverse, range(13))
            pool.map(slow_inverse, range(60), chunksize=2)
        except ZeroDivisionError:
            pass
        futs = [pool.submit(slow_inverse, x) for x in range(20, 30)]
        total = pool.submit(sum, futs)
        assert abs(total.result() - sum(1 / (x - 13) for x in range(20, 30))) < 1e-9
        print("DONE", flush=True)
        wait_for(go + ".end")
        pool.shutdown()


if __name__ == "__main__":
    main()
