"""Large buffers through shared memory (pool/shm.py), on real workers and a real /dev/shm.

Every test counts the segments in /dev/shm named for the driver process it started: they
exist while work runs (the path is really taken), and none is left once the pool is shut
down -- after a worker crash, an interrupt, a driver killed with SIGKILL -- so a leak fails.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from taskscope.pool import Pool, WorkerDiedError, shm
from taskscope.pool.scheduler import SHM_TRIM_AFTER_S

HERE = Path(__file__).resolve().parent
RESULT_TIMEOUT_S = 60
MB4 = 512 * 1024  # float64 items in 4 MB

pytestmark = pytest.mark.skipif(not shm.available(), reason="needs a writable /dev/shm")


def segments(pid: int | None = None) -> list[str]:
    prefix = f"{shm.PREFIX}{pid or os.getpid()}-"
    return sorted(n for n in os.listdir(shm.SHM_DIR) if n.startswith(prefix))


def mapped(pid: int) -> list[str]:
    """The taskscope segments process `pid` has mapped, from /proc/PID/maps."""
    with open(f"/proc/{pid}/maps") as f:
        return sorted(os.path.basename(line.split()[-1]) for line in f
                      if shm.PREFIX in line and line.split()[-1].startswith(shm.SHM_DIR))


def array_sum(a: np.ndarray) -> float:
    return float(a.sum())


def plus_one(a: np.ndarray) -> np.ndarray:
    return a + 1  # a large result: back through a segment the worker makes


def every_other(a: np.ndarray) -> np.ndarray:
    return a[::2]  # a view into the input's segment: kept on the worker, it pins it


def scribble(a: np.ndarray) -> float:
    a[:] = -1.0  # the worker's copy is writable; the caller's array must not change
    return float(a[0])


def die_on_big(a: np.ndarray) -> float:
    if a[0] == 3.0:
        os._exit(9)
    return float(a.sum())


def slow_sum(a: np.ndarray) -> float:
    time.sleep(0.5)
    return float(a.sum())


@pytest.fixture
def pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    p = Pool(2, name="shm-test")
    yield p
    p.shutdown()
    assert segments() == [], "shared-memory segments left after shutdown"


def test_arrays_go_through_shared_memory_and_come_back(pool: Pool) -> None:
    arrays = [np.full(MB4, float(i)) for i in range(12)]
    assert pool.map(array_sum, arrays) == [float(i) * MB4 for i in range(12)]
    assert segments(), "no segment was used for 4 MB arrays"  # kept for reuse while busy
    back = pool.map(plus_one, arrays[:4])
    for i, b in enumerate(back):
        assert b.shape == (MB4,) and b[0] == i + 1 and b[-1] == i + 1
    del back
    # The worker's view is its own: writing to it changes nothing here.
    assert pool.map(scribble, arrays[:3]) == [-1.0] * 3
    assert all(a[0] == float(i) for i, a in enumerate(arrays[:3]))
    # Segments kept for reuse are given back once the pool is idle, and the workers then
    # unmap them (a mapping would keep an unlinked segment's memory alive).
    deadline = time.monotonic() + SHM_TRIM_AFTER_S + 10
    while segments() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert segments() == []
    pids = [w.pid for w in pool._driver.workers.values()]
    deadline = time.monotonic() + 10
    while any(mapped(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [mapped(pid) for pid in pids] == [[]] * len(pids)


def test_a_worker_maps_a_reused_segment_once(pool: Pool) -> None:
    """The driver reuses its segments; a worker keeps their mappings between messages
    rather than mapping and unmapping 4 MB per message."""
    arrays = [np.full(MB4, float(i)) for i in range(4)]
    for _ in range(6):
        assert pool.map(array_sum, arrays, chunksize=1) == [float(i) * MB4 for i in range(4)]
    kept = set(segments())
    assert kept, "no segment kept for reuse"
    workers = list(pool._driver.workers.values())
    assert any(mapped(w.pid) for w in workers), "no worker kept a mapping after its message"
    for w in workers:
        names = mapped(w.pid)
        assert len(names) == len(set(names)), f"a segment mapped twice: {names}"
        assert set(names) <= kept, f"worker {w.id} maps segments the driver no longer has"


def test_a_kept_view_of_an_input_is_never_overwritten(pool: Pool) -> None:
    kept = pool.submit(every_other, np.full(MB4, 7.0))
    assert kept.done() or kept.exception(RESULT_TIMEOUT_S) is None
    # More arrays through the same (reused) segments; the kept view must still read 7s.
    for round_ in range(3):
        arrays = [np.full(MB4, 100.0 + round_) for _ in range(6)]
        assert pool.map(array_sum, arrays) == [(100.0 + round_) * MB4] * 6
    value = kept.result(RESULT_TIMEOUT_S)
    assert value.shape == (MB4 // 2,) and np.all(value == 7.0)
    assert pool.submit(array_sum, kept).result(RESULT_TIMEOUT_S) == 7.0 * MB4 // 2


def test_a_worker_crash_leaves_no_segment(pool: Pool) -> None:
    arrays = [np.full(MB4, float(i)) for i in range(6)]
    with pytest.raises(WorkerDiedError):
        pool.map(die_on_big, arrays, chunksize=1)
    assert pool.map(array_sum, arrays) == [float(i) * MB4 for i in range(6)]


def test_an_interrupt_leaves_no_segment(pool: Pool) -> None:
    arrays = [np.full(MB4, 1.0) for _ in range(8)]
    main = threading.main_thread().ident

    def interrupt() -> None:
        deadline = time.monotonic() + RESULT_TIMEOUT_S
        while not any(w.messages for w in list(pool._driver.workers.values())):
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
        time.sleep(0.2)
        signal.pthread_kill(main, signal.SIGINT)

    t = threading.Thread(target=interrupt)
    t.start()
    with pytest.raises(KeyboardInterrupt):
        pool.map(slow_sum, arrays, chunksize=1)
    t.join()
    assert pool.map(array_sum, arrays[:2]) == [float(MB4)] * 2


def test_a_driver_killed_with_sigkill_leaves_segments_the_next_pool_removes(
        tmp_path: Path) -> None:
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    proc = subprocess.Popen([sys.executable, str(HERE / "_shm_script.py")], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # "RUNNING" once arrays are in segments
        assert line.strip() == "RUNNING", line
        assert segments(proc.pid), "the script's map put no array in shared memory"
        proc.send_signal(signal.SIGKILL)
        proc.wait(RESULT_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    left = segments(proc.pid)
    assert left, "expected the killed driver's segments to be left behind"
    deadline = time.monotonic() + 10  # its workers die of the parent-death signal
    with Pool(1, name="sweeper") as p:  # a new pool removes them
        assert p.map(abs, [-1]) == [1]
    while segments(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert segments(proc.pid) == []


def test_the_exporter_reuses_segments_and_refuses_foreign_names() -> None:
    ex = shm.Exporter(f"{shm.PREFIX}{os.getpid()}-0badcafe-d-", reuse=True)
    try:
        big = np.arange(MB4, dtype=np.float64)
        frames, descs = ex.export([b"head", memoryview(big).cast("B"), b"x" * 10])
        assert frames[0] == b"head" and frames[1] == b"" and frames[2] == b"x" * 10
        [[index, name, nbytes]] = descs
        assert (index, nbytes) == (1, big.nbytes) and name in segments()
        got = list(frames)
        maps = shm.attach_all(got, descs, unlink_now=False)
        assert np.array_equal(np.frombuffer(got[1], dtype=np.float64), big)
        got = []
        assert shm.close_all(maps) == []
        ex.release([name])
        _, again = ex.export([memoryview(big).cast("B")])
        assert again[0][1] == name  # reused, not made anew
        with pytest.raises(ValueError, match="not a taskscope"):
            shm._attach("../../etc/passwd", 10)
    finally:
        ex.close()
    assert segments() == []


def test_a_cached_mapping_is_pinned_exactly_while_a_value_reads_it() -> None:
    """The worker's side (shm.Mappings) on a real segment and real pickle-5 buffers: an
    array unpickled from a view keeps the segment pinned; once it is gone, the mapping is
    reused by the next message and closed when the segment is unlinked."""
    import pickle

    ex = shm.Exporter(f"{shm.PREFIX}{os.getpid()}-0badcafe-d-", reuse=True)
    maps = shm.Mappings()
    try:
        big = np.arange(MB4, dtype=np.float64)
        buffers: list[pickle.PickleBuffer] = []
        head = pickle.dumps(big, protocol=5, buffer_callback=buffers.append)
        frames, descs = ex.export([head, buffers[0].raw()])
        got = list(frames)
        names = maps.attach(got, descs)
        value = pickle.loads(got[0], buffers=got[1:])
        got = []
        assert maps.let_go(names) == names, "an array still reading the segment must pin it"
        assert np.array_equal(value, big)
        del value
        maps.forget_gone()  # the pinned mapping is closed once nothing reads it
        assert not maps
        # Not pinned: the mapping stays for the next message naming the same segment.
        ex.release(names)
        frames, descs = ex.export([head, buffers[0].raw()])
        got = list(frames)
        names = maps.attach(got, descs)
        total = float(pickle.loads(got[0], buffers=got[1:]).sum())
        got = []
        assert total == float(big.sum()) and maps.let_go(names) == [] and maps
        ex.release(names)
        ex.trim()  # the driver unlinks it: the worker lets go of its mapping
        maps.forget_gone()
        assert not maps
    finally:
        maps.close()
        ex.close()
    assert segments() == []
