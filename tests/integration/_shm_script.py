"""For tests/integration/test_shm.py (not a test module): a driver the test kills.

    python _shm_script.py
        Pool(2) mapping 4 MB arrays through slow tasks; prints ``RUNNING`` once arrays sit
        in shared-memory segments; the test then kills this process with SIGKILL.
"""
from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np

from taskscope.pool import Pool, shm


def slow_sum(a: np.ndarray) -> float:
    time.sleep(60)
    return float(a.sum())


def announce() -> None:
    prefix = f"{shm.PREFIX}{os.getpid()}-"
    while not any(n.startswith(prefix) for n in os.listdir(shm.SHM_DIR)):
        time.sleep(0.02)
    print("RUNNING", flush=True)


if __name__ == "__main__":
    threading.Thread(target=announce, daemon=True).start()
    with Pool(2) as pool:
        pool.map(slow_sum, [np.ones(512 * 1024) for _ in range(8)], chunksize=1)
    sys.exit(0)
