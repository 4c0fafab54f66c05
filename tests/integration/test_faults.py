"""Faults on real processes and signals: workers that die (SIGKILL, os._exit, a segfault), go
over the memory limit or past a task's timeout; interrupts during map, gather and result();
the driver killed with SIGKILL (orphans, ipc directory, registry entry).

Every test checks the error text, that no task is silently lost (each ends with a result, an
error or a cancellation) and that the State built from the event stream (the collector's,
fed by `taskscope.pool.subscribe`) says what happened and adds up.
"""
from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

import psutil
import pytest

from taskscope.collector import Collector
from taskscope.pool import (
    Pool,
    TaskCancelledError,
    TaskTimeoutError,
    WorkerDiedError,
    WorkerMemoryError,
    registry,
)
from taskscope.pool.faults import parse_memory_limit

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "_fault_script.py"
RESULT_TIMEOUT_S = 60


# ------------------------------------------------------------------ functions run by workers
def square(x: int) -> int:
    return x * x


def slow(seconds: float, value: Any = None) -> Any:
    time.sleep(seconds)
    return value if value is not None else seconds


def die(note: str, how: str) -> None:
    """Note this worker's pid, then die the way asked."""
    Path(note).write_text(str(os.getpid()))
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif how == "exit":
        os._exit(7)
    elif how == "segfault":
        import ctypes

        ctypes.string_at(0)  # reads address 0: SIGSEGV
    time.sleep(60)


def die_first_time(marker: str, value: int) -> int:
    """Dies (SIGKILL) unless `marker` exists; creates it first: a retry succeeds."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return value


def slow_first_time(marker: str, value: int) -> int:
    if not os.path.exists(marker):
        Path(marker).touch()
        time.sleep(60)
    return value


def die_on(x: int, bad: int) -> int:
    if x == bad:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.01)
    return x


def hog(nbytes: int) -> int:
    """Touch `nbytes` of memory, then hold it a while."""
    block = bytearray(nbytes)
    for i in range(0, nbytes, 4096):
        block[i] = 1
    time.sleep(30)
    return len(block)


# ------------------------------------------------------------------ helpers
def watch(pool: Pool) -> Collector:
    """The kernel's collector on this pool: subscribe() -> State, on its own thread."""
    info = pool.connection_info()
    col = Collector(info["events"], info["key"], pool.name)
    wait_for(lambda: col.state.pool["id"] == pool.id, what="the collector's first snapshot")
    return col


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def state_of(col: Collector) -> dict[str, Any]:
    with col.lock:
        return col.state.to_json()


def settled(col: Collector, pool: Pool) -> dict[str, Any]:
    """The State once every call of the driver has ended and the State has counted it all:
    its totals equal the driver's own counts."""
    def done() -> dict[str, Any] | None:
        calls = list(pool._driver.calls.values())
        if not all(c.complete for c in calls):
            return None
        st = state_of(col)
        seen = {c["id"]: c for c in st["calls"]}
        for c in calls:
            row = seen.get(c.id)
            if row is None:
                if seen and c.id < min(seen):
                    continue  # before this collector joined, and no longer in the snapshot
                return None  # its events are still on their way
            k = row["counts"]
            if (k["released"] + k["memory"], k["erred"], k["cancelled"]) != \
                    (c.done, c.erred, c.cancelled):
                return None
            if row["status"] == "running" and row["api"] != "submit":
                return None
        return st
    return wait_for(done, what="the State's counts to match the driver's")


def assert_counts_add_up(st: dict[str, Any], whole_history: bool = True) -> None:
    """Every item of every call ended with a result, an error or a cancellation."""
    ended = 0
    for call in st["calls"]:
        c = call["counts"]
        assert c["queued"] == 0 and c["processing"] == 0 and c["waiting"] == 0, call
        finished = c["released"] + c["memory"] + c["erred"] + c["cancelled"]
        assert finished == call["total"], call  # the input's length (submits: their number)
        assert call["submitted"] <= call["total"], call
        ended += finished
    if whole_history:  # the collector saw the pool from its start (and every call is kept)
        t = st["totals"]
        assert t["done"] + t["erred"] + t["cancelled"] == ended, t


def live_workers(pool: Pool) -> set[int]:
    return {w.pid for w in pool._driver.workers.values() if not w.exited}


def read_pid(path: Path) -> int:
    wait_for(lambda: path.exists() and path.read_text(), what=f"{path.name}")
    return int(path.read_text())


@pytest.fixture
def pool() -> Iterator[Pool]:
    with Pool(2) as p:
        yield p


# ------------------------------------------------------------------ 1. worker deaths
DEATHS = {  # how -> (signal, exit code) the error and the State must name
    "sigkill": (signal.SIGKILL, -9),
    "exit": (None, 7),
    "segfault": (signal.SIGSEGV, -11),
}


@pytest.mark.parametrize("how", list(DEATHS))
def test_worker_death_fails_only_its_task_names_it_and_is_replaced(pool: Pool, tmp_path: Path,
                                                                   how: str) -> None:
    sig, code = DEATHS[how]
    col = watch(pool)
    try:
        note = tmp_path / "pid"
        before = live_workers(pool)
        others = [pool.submit(slow, 0.05, i) for i in range(10)]
        victim = pool.submit(die, str(note), how, key="the-victim")
        others += [pool.submit(slow, 0.05, i) for i in range(10, 20)]
        exc = victim.exception(RESULT_TIMEOUT_S)
        pid = read_pid(note)
        assert isinstance(exc, WorkerDiedError), exc
        assert exc.pid == pid and exc.exitcode == code and exc.signal == sig
        text = str(exc)
        assert "'the-victim'" in text and "'die'" in text, text  # the task and its function
        assert f"worker {exc.worker} (pid {pid})" in text, text
        assert (f"signal {sig.value}" if sig else f"exit code {code}") in text, text
        assert "replaced" in text
        # every other task finishes, the pool has two workers again, one of them new
        assert [f.result(RESULT_TIMEOUT_S) for f in others] == list(range(20))
        assert pool.map(square, range(30)) == [x * x for x in range(30)]
        wait_for(lambda: len(live_workers(pool)) == 2 and pid not in live_workers(pool),
                 what="a replacement worker")
        assert live_workers(pool) - before
        # the State says what happened
        st = settled(col, pool)
        assert_counts_add_up(st)
        dead = [w for w in st["workers"] if w["pid"] == pid]
        assert dead and dead[0]["status"] == "died", st["workers"]
        assert dead[0]["exitcode"] == code and dead[0]["signal"] == (sig.value if sig else None)
        errors = [e for e in st["errors"] if e["exc_type"] == "WorkerDiedError"]
        assert len(errors) == 1 and errors[0]["pid"] == pid and f"pid {pid}" in errors[0]["message"]
        assert st["totals"] == {"submitted": 51, "done": 50, "erred": 1, "cancelled": 0}
    finally:
        col.stop()


def test_a_dead_map_item_fails_the_map_naming_it_and_the_pool_goes_on(pool: Pool) -> None:
    col = watch(pool)
    try:
        with pytest.raises(WorkerDiedError) as info:
            pool.starmap(die_on, [(x, 7) for x in range(20)], chunksize=1)
        text = str(info.value)
        assert "'die_on'" in text and "signal 9" in text and f"pid {info.value.pid}" in text
        assert "item 7 of call" in text  # the item that killed its worker
        assert pool.map(square, range(10)) == [x * x for x in range(10)]
        st = settled(col, pool)
        assert_counts_add_up(st)
        assert st["totals"]["erred"] == 1
        assert st["totals"]["done"] + st["totals"]["cancelled"] == 29
    finally:
        col.stop()


def test_a_task_whose_worker_dies_is_retried_when_asked(pool: Pool, tmp_path: Path) -> None:
    col = watch(pool)
    try:
        ok = pool.submit(die_first_time, str(tmp_path / "m1"), 42, retries=1)
        assert ok.result(RESULT_TIMEOUT_S) == 42  # died once, ran again
        always = pool.submit(die, str(tmp_path / "pid"), "sigkill", retries=2)
        exc = always.exception(RESULT_TIMEOUT_S)
        assert isinstance(exc, WorkerDiedError) and "signal 9" in str(exc)
        st = settled(col, pool)
        assert_counts_add_up(st)
        assert st["totals"] == {"submitted": 2, "done": 1, "erred": 1, "cancelled": 0}
        died = [w for w in st["workers"] if w["status"] == "died"]
        assert len(died) >= 3  # one for the first task, three tries for the second (2 kept)
    finally:
        col.stop()


# ------------------------------------------------------------------ 2. memory limit
def test_memory_limit_parsing() -> None:
    assert parse_memory_limit(None) is None
    assert parse_memory_limit(1000) == 1000
    assert parse_memory_limit("500MB") == 500_000_000
    assert parse_memory_limit("2 GiB") == 2 * 2**30
    assert parse_memory_limit("1.5g") == 1_500_000_000
    for bad in ("lots", "-5MB", "0", "5 parsecs"):
        with pytest.raises(ValueError, match="memory_limit"):
            parse_memory_limit(bad)
    for bad in (True, [1]):
        with pytest.raises(TypeError, match="memory_limit"):
            parse_memory_limit(bad)
    with pytest.raises(ValueError, match="memory_limit"):
        Pool(1, memory_limit="nope")


def test_a_worker_over_the_memory_limit_is_restarted_and_its_task_fails_clearly() -> None:
    limit = 200 * 10**6
    with Pool(2, memory_limit="200MB") as pool:
        col = watch(pool)
        try:
            others = [pool.submit(slow, 0.1, i) for i in range(10)]
            started = time.monotonic()
            fut = pool.submit(hog, 600 * 2**20, key="the-hog")
            exc = fut.exception(RESULT_TIMEOUT_S)
            took = time.monotonic() - started
            assert isinstance(exc, WorkerMemoryError) and isinstance(exc, WorkerDiedError), exc
            assert exc.limit == limit and limit < exc.rss < 700 * 2**20
            text = str(exc)
            assert "memory_limit" in text and f"({limit} bytes)" in text
            assert f"({exc.rss} bytes)" in text and "'the-hog'" in text
            assert f"worker {exc.worker} (pid {exc.pid})" in text and "restarted" in text
            assert took < 10, f"the hog was stopped only after {took:.1f} s"
            assert [f.result(RESULT_TIMEOUT_S) for f in others] == list(range(10))
            assert pool.map(square, range(20)) == [x * x for x in range(20)]
            st = settled(col, pool)
            assert_counts_add_up(st)
            assert st["pool"]["memory_limit"] == limit
            assert all(w["memory_limit"] == limit for w in st["workers"])
            killed = [w for w in st["workers"] if w["pid"] == exc.pid]
            assert killed[0]["status"] == "died" and killed[0]["cause"] == "memory_limit"
            assert "memory_limit" in killed[0]["exit_message"]
            errors = [e for e in st["errors"] if e["exc_type"] == "WorkerMemoryError"]
            assert len(errors) == 1 and "memory_limit" in errors[0]["message"]
            print(f"\nhog stopped after {took:.2f} s at RSS {exc.rss / 2**20:.0f} MiB")
        finally:
            col.stop()


# ------------------------------------------------------------------ 3. timeouts
def test_a_submitted_task_past_its_timeout_is_stopped_and_raises_timeout_error(pool: Pool) -> None:
    col = watch(pool)
    try:
        others = [pool.submit(slow, 0.2, i) for i in range(6)]
        started = time.monotonic()
        fut = pool.submit(slow, 60, key="too-slow", timeout=0.5)
        exc = fut.exception(RESULT_TIMEOUT_S)
        took = time.monotonic() - started
        assert isinstance(exc, TaskTimeoutError) and isinstance(exc, TimeoutError), exc
        assert exc.timeout == 0.5
        text = str(exc)
        assert "'too-slow'" in text and "timeout of 0.5 s" in text
        assert f"worker {exc.worker} (pid {exc.pid})" in text and "killed" in text
        assert took < 5, f"stopped after {took:.1f} s"
        assert not psutil.pid_exists(exc.pid) or psutil.Process(exc.pid).status() == "zombie"
        assert [f.result(RESULT_TIMEOUT_S) for f in others] == list(range(6))
        fast = pool.submit(slow, 0.05, 9, timeout=5)  # within its timeout: a result
        assert fast.result(RESULT_TIMEOUT_S) == 9
        st = settled(col, pool)
        assert_counts_add_up(st)
        timed_out = [w for w in st["workers"] if w["pid"] == exc.pid]
        assert timed_out[0]["cause"] == "timeout" and timed_out[0]["status"] == "died"
        assert [e["exc_type"] for e in st["errors"]] == ["TaskTimeoutError"]
    finally:
        col.stop()


def test_a_timed_out_task_is_retried_when_asked(pool: Pool, tmp_path: Path) -> None:
    fut = pool.submit(slow_first_time, str(tmp_path / "m"), 5, timeout=1, retries=1)
    assert fut.result(RESULT_TIMEOUT_S) == 5


def test_map_timeout_applies_to_each_item(pool: Pool) -> None:
    assert pool.map(slow, [0.01] * 10, timeout=5) == [0.01] * 10
    started = time.monotonic()
    with pytest.raises(TaskTimeoutError) as info:
        pool.map(slow, [0.05, 60, 0.05, 0.05], timeout=1)
    assert time.monotonic() - started < 5
    assert "item 1 of call" in str(info.value) and "timeout of 1 s" in str(info.value)
    assert pool.map(square, range(10)) == [x * x for x in range(10)]
    for bad in (0, -1, float("nan"), "1"):
        with pytest.raises(ValueError, match="timeout"):
            pool.submit(square, 2, timeout=bad)


# ------------------------------------------------------------------ 4. interrupts
def _main_thread_sigint_when(predicate: Callable[[], bool]) -> threading.Thread:
    """What the notebook's interrupt button does: SIGINT to the kernel's main thread."""
    def run() -> None:
        wait_for(predicate, what="the work to start")
        time.sleep(0.2)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # type: ignore[arg-type]

    helper = threading.Thread(target=run, daemon=True)
    helper.start()
    return helper


def _busy(pool: Pool) -> bool:
    return sum(1 for w in pool._driver.workers.values() if w.messages) == 2


@pytest.mark.parametrize("api", ["map", "imap", "gather", "result"])
def test_interrupt_stops_the_call_running_and_queued_and_the_pool_goes_on(pool: Pool,
                                                                          api: str) -> None:
    col = watch(pool)
    try:
        before = {w.pid: psutil.Process(w.pid) for w in pool._driver.workers.values()}
        helper = _main_thread_sigint_when(lambda: _busy(pool))
        futures = []
        with pytest.raises(KeyboardInterrupt):
            if api == "map":
                pool.map(slow, [30] * 8, chunksize=1)
            elif api == "imap":
                list(pool.imap(slow, [30] * 8, chunksize=1))
            else:
                futures = [pool.submit(slow, 30) for _ in range(6)]
                if api == "gather":
                    pool.gather(futures)
                else:
                    futures[0].result()
        interrupted_at = time.monotonic()
        helper.join(5)
        # the CPU comes back: the workers that ran the call's tasks are killed and replaced
        gone, alive = psutil.wait_procs(list(before.values()), timeout=2)
        took = time.monotonic() - interrupted_at
        if api != "result":
            assert not alive, f"workers {[p.pid for p in alive]} still run the interrupted call"
        else:  # only the task waited for is stopped; the others go on
            assert len(gone) == 1
        assert took < 2.5
        wait_for(lambda: pool.status == "interrupted" or pool.status == "running")
        wait_for(lambda: state_of(col)["pool"]["status"] == "interrupted",
                 what="the State to show the pool interrupted")
        if api in ("map", "imap"):
            wait_for(lambda: state_of(col)["calls"][-1]["status"] == "interrupted",
                     what="the State to show the call interrupted")
        if api == "gather":
            for f in futures:
                with pytest.raises((CancelledError, TaskCancelledError)):
                    f.result(RESULT_TIMEOUT_S)
        if api == "result":
            with pytest.raises(TaskCancelledError, match="interrupted"):
                futures[0].result(RESULT_TIMEOUT_S)
            for f in futures[1:]:
                f.cancel()
            pool._interrupted(futures[1:])  # a second interrupt: stop the rest too
        # the pool is usable for the next call, and the State adds up
        assert pool.map(square, range(20)) == [x * x for x in range(20)]
        assert pool.status == "running"
        st = settled(col, pool)
        assert_counts_add_up(st)
        assert st["totals"]["done"] == 20 and st["totals"]["erred"] == 0
        assert st["pool"]["status"] == "running"
        stopped = [w for w in st["workers"] if w["cause"] == "interrupted"]
        assert stopped and all(w["status"] == "exited" for w in stopped)
    finally:
        col.stop()


def _run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env or dict(os.environ),
                            cwd=str(HERE))


def _expect(proc: subprocess.Popen[str], prefix: str, timeout: float = 30) -> str:
    """The rest of the script's next line starting with `prefix` (others are skipped)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(max(0.0, deadline - time.monotonic())):
                break
            line = proc.stdout.readline()
            if line.startswith(prefix):
                return line[len(prefix):].strip()
            if not line:
                break
    proc.kill()
    proc.wait(10)
    err = proc.stderr.read() if proc.stderr else ""
    raise AssertionError(f"no {prefix!r} line from the script; its stderr:\n{err[-4000:]}")


def _reap(proc: subprocess.Popen[str]) -> None:
    """Kill the script if it still runs; close its pipes (its workers may hold their other
    ends for a moment longer, so do not wait for end-of-file)."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


@pytest.mark.parametrize("api", ["map", "gather", "result"])
def test_sigint_to_a_script_interrupts_within_a_second(api: str) -> None:
    """A real SIGINT (Ctrl-C in a terminal; the kernel's interrupt is the same signal)."""
    proc = _run_script("interrupt", api)
    try:
        pids = [int(p) for p in _expect(proc, "PIDS ").split()]
        workers = [psutil.Process(p) for p in pids]
        _expect(proc, "RUNNING")
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _expect(proc, "KeyboardInterrupt")
        latency = time.monotonic() - sent
        # Typically a few ms; the bound leaves room for a busy 2-core machine, not for a hang.
        assert latency < 2.0, f"KeyboardInterrupt after {latency:.2f} s"
        gone, alive = psutil.wait_procs(workers, timeout=2)
        killed_after = time.monotonic() - sent
        if api == "result":
            assert len(gone) >= 1
        else:
            assert not alive, "the interrupted call's workers still run"
        report = json.loads(_expect(proc, "REPORT "))
        assert report["status_after_interrupt"] == "interrupted"
        assert report["next"] == [x * x for x in range(10)]
        t = report["totals"]
        assert t["done"] + t["erred"] + t["cancelled"] == report["items"], report
        assert report["status_at_end"] == "running"
        assert proc.wait(30) == 0
        print(f"\n{api}: KeyboardInterrupt {latency * 1000:.0f} ms after SIGINT, "
              f"{len(gone)} worker(s) killed within {killed_after:.2f} s")
    finally:
        _reap(proc)


# ------------------------------------------------------------------ 5. driver killed
@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_driver_killed_with_sigkill_leaves_no_orphans_and_is_cleaned_up(tmp_path: Path, wait_gone: Any,
                                                                        start_method: str) -> None:
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path))
    proc = _run_script("orphan", start_method, env=env)
    try:
        info = json.loads(_expect(proc, "INFO "))
        workers = [psutil.Process(p) for p in info["workers"]]
        _expect(proc, "RUNNING")
        assert os.path.isdir(info["ipc_dir"])
        assert [e["id"] for e in registry.list_pools(str(tmp_path))] == [info["id"]]
        killed = time.monotonic()
        proc.kill()
        proc.wait(10)
        alive = wait_gone(workers, timeout=5)
        took = time.monotonic() - killed
        assert not alive, f"orphaned workers {[p.pid for p in alive]}"
        assert took < 2.0, f"the workers outlived their driver by {took:.2f} s"
        print(f"\n{start_method}: {len(workers)} workers gone {took:.2f} s after the driver's SIGKILL")
        # What the dead driver could not clean, readers do. (Not asserting that the ipc dir
        # is still there first: any new pool of this user on the machine may already have
        # removed it, which is the same mechanism working.)
        assert registry.list_pools(str(tmp_path)) == []  # prunes the entry and the ipc dir
        assert not list(tmp_path.glob("taskscope-pool-*.json"))
        assert not os.path.exists(info["ipc_dir"])
    finally:
        _reap(proc)


def test_a_new_pool_removes_ipc_dirs_of_dead_drivers(tmp_path: Path) -> None:
    import tempfile

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = Path(tempfile.mkdtemp(prefix=f"taskscope-{int(dead.stdout)}-"))
    (stale / "tasks").touch()
    mine = Path(tempfile.mkdtemp(prefix=f"taskscope-{os.getpid()}-"))  # a live driver's
    try:
        with Pool(1) as p:
            assert p.map(square, [3]) == [9]
        assert not stale.exists() and mine.exists()
    finally:
        import shutil

        shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(mine, ignore_errors=True)


# ------------------------------------------------------------------ secrets stay secret
def test_keys_and_endpoints_never_reach_errors_or_logs(caplog: pytest.LogCaptureFixture,
                                                       tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    texts = []
    with Pool(2, memory_limit="150MB") as pool:
        info = pool.connection_info()
        secrets = [info["key"], info["events"], pool._driver.endpoints.tasks_endpoint,
                   pool._driver.endpoints.dir]
        col = watch(pool)
        try:
            texts.append(str(pool.submit(die, str(tmp_path / "p"), "sigkill").exception(60)))
            texts.append(str(pool.submit(slow, 30, timeout=0.3).exception(60)))
            texts.append(str(pool.submit(hog, 400 * 2**20).exception(60)))
            texts.append(repr(pool) + repr(pool._driver))
            st = settled(col, pool)
            texts.append(json.dumps(st))
        finally:
            col.stop()
    texts.append(caplog.text)
    for text in texts:
        for secret in secrets:
            assert secret and secret not in text
