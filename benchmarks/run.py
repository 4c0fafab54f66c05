"""taskscope against the usual process pools, side by side, in one run on one machine.

    python benchmarks/run.py [--quick | --full] [--only NAME[,NAME...]] [--markdown FILE]

Rivals (2 workers each unless --workers; default: the CPUs this process may use):

    taskscope      taskscope.pool.Pool.map (adaptive chunking, default start method)
    multiprocessing multiprocessing.Pool.map (default chunksize)
    futures        concurrent.futures.ProcessPoolExecutor.map, chunksize = len/(4*workers)
    loky           loky.get_reusable_executor().map, same chunksize as futures
    joblib         joblib.Parallel(n_jobs=workers) (batch_size='auto', loky backend)
    mpire          mpire.WorkerPool(keep_alive=True).map (default chunking)
    dask           dask.distributed LocalCluster(processes=True, threads_per_worker=1),
                   client.map + gather (a reduced input on workload 1: see the table)

Workloads:

    tiny   200,000 tasks x*x: the per-task overhead of the pool
    cpu    2,000 tasks of ~5 ms pure-Python CPU each (calibrated once): parallel efficiency
    numpy  200 tasks, each given its own 4 MB numpy array, returning arr.sum(): data transfer

Method: for each workload every rival's pool is created once and warmed up; then each
repetition times every rival once, in an order rotated per repetition so that rivals share
the machine's noise; the table quotes medians (N=3 --quick, 5 default and --full). The machine
is shared and noisy: read ratios, not absolute times. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import logging
import math
import multiprocessing
import os
import platform
import signal
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
# Workers of every start method must import the task functions: put this folder on sys.path
# (fork, and spawn/forkserver which copy sys.path) and on PYTHONPATH (dask's nanny, loky).
sys.path.insert(0, HERE)
os.environ["PYTHONPATH"] = HERE + (os.pathsep + os.environ["PYTHONPATH"]
                                   if os.environ.get("PYTHONPATH") else "")

import workloads  # noqa: E402

PROFILES = {
    # sizes of (tiny, cpu, numpy), dask's reduced tiny size, repetitions, per-run timeout (s)
    "quick": {"tiny": 200_000, "cpu": 2_000, "numpy": 200, "dask_tiny": 1_000, "reps": 3,
              "timeout": 120},
    "default": {"tiny": 200_000, "cpu": 2_000, "numpy": 200, "dask_tiny": 2_000, "reps": 5,
                "timeout": 120},
    "full": {"tiny": 1_000_000, "cpu": 5_000, "numpy": 500, "dask_tiny": 5_000, "reps": 5,
             "timeout": 300},
}
TASK_S = 0.005  # workload cpu: seconds of CPU per task
ARRAY_BYTES = 4 * 1024 * 1024  # workload numpy: bytes per array
SERIAL_SAMPLE = 0.1  # workload cpu: share of the tasks run serially per repetition


def say(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


class BenchTimeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise BenchTimeout in the main thread after `seconds` (SIGALRM), so a hung rival
    fails its row instead of the whole run."""
    def on_alarm(signum: int, frame: Any) -> None:
        raise BenchTimeout(f"timed out after {seconds:.0f} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------------------------- rivals
class Rival:
    """One pool implementation. `start` makes the pool, `run` is what gets timed."""

    name = "?"
    start_method = "?"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def chunking(self, n: int) -> str:
        return "default"

    def start(self) -> None:
        raise NotImplementedError

    def run(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def tuned_chunksize(n: int, workers: int) -> int:
    """What a user would pick for ProcessPoolExecutor.map: len/(4*workers)."""
    return max(1, n // (4 * workers))


class TaskscopeRival(Rival):
    name = "taskscope"

    def start(self) -> None:
        from taskscope.pool import Pool

        self.pool = Pool(self.workers)
        self.start_method = self.pool.start_method

    def chunking(self, n: int) -> str:
        return "adaptive (default)"

    def run(self, fn, items):
        return self.pool.map(fn, items)

    def close(self) -> None:
        self.pool.shutdown()


class MultiprocessingRival(Rival):
    name = "multiprocessing"

    def start(self) -> None:
        self.pool = multiprocessing.Pool(self.workers)
        self.start_method = multiprocessing.get_start_method()

    def chunking(self, n: int) -> str:
        # multiprocessing.Pool.map's own default: ceil(len / (4 * workers))
        q, r = divmod(n, 4 * self.workers)
        return f"default ({q + bool(r)})"

    def run(self, fn, items):
        return self.pool.map(fn, items)

    def close(self) -> None:
        self.pool.close()
        self.pool.join()


class _ExecutorRival(Rival):
    """An Executor's `map`, with the chunk size a user would tune it to."""

    def chunking(self, n: int) -> str:
        return f"len/(4*workers) = {tuned_chunksize(n, self.workers)}"

    def run(self, fn, items):
        return list(self.pool.map(fn, items, chunksize=tuned_chunksize(len(items), self.workers)))

    def close(self) -> None:
        self.pool.shutdown(wait=True)


class FuturesRival(_ExecutorRival):
    name = "futures"

    def start(self) -> None:
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(self.workers)
        self.start_method = self.pool._mp_context.get_start_method()


class LokyRival(_ExecutorRival):
    name = "loky"
    start_method = "loky"

    def start(self) -> None:
        import loky

        self.pool = loky.get_reusable_executor(max_workers=self.workers)


class JoblibRival(Rival):
    name = "joblib"
    start_method = "loky"

    def start(self) -> None:
        import joblib

        self._delayed = joblib.delayed
        self.parallel = joblib.Parallel(n_jobs=self.workers)  # backend loky, batch_size auto
        self.parallel.__enter__()  # keep the same workers for every call

    def chunking(self, n: int) -> str:
        return "batch_size='auto'"

    def run(self, fn, items):
        d = self._delayed(fn)
        return self.parallel(d(x) for x in items)

    def close(self) -> None:
        self.parallel.__exit__(None, None, None)


class MpireRival(Rival):
    name = "mpire"

    def start(self) -> None:
        from mpire import WorkerPool

        self.pool = WorkerPool(n_jobs=self.workers, keep_alive=True)
        self.start_method = self.pool.pool_params.start_method

    def chunking(self, n: int) -> str:
        return "default (n_splits=64*workers)"

    def run(self, fn, items):
        return self.pool.map(fn, items)

    def close(self) -> None:
        self.pool.terminate()


class DaskRival(Rival):
    name = "dask"
    start_method = "spawn (nanny)"

    def start(self) -> None:
        from dask.distributed import Client, LocalCluster

        self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                    dashboard_address=None, silence_logs=logging.ERROR)
        self.client = Client(self.cluster)

    def chunking(self, n: int) -> str:
        return "none (one task each)"

    def run(self, fn, items):
        futures = self.client.map(fn, items, pure=False)
        try:
            return self.client.gather(futures)
        finally:
            del futures

    def close(self) -> None:
        self.client.close()
        self.cluster.close()


RIVALS: list[type[Rival]] = [TaskscopeRival, MultiprocessingRival, FuturesRival, LokyRival,
                             JoblibRival, MpireRival, DaskRival]


# ------------------------------------------------------------------------------------ workloads
@dataclass
class Workload:
    name: str
    title: str
    fn: Callable[[Any], Any]
    items: list[Any]
    expected: list[Any]
    warmup: list[Any]
    reduced: dict[str, int] = field(default_factory=dict)  # rival -> items it runs instead
    serial_items: list[Any] | None = None  # cpu: a sample timed serially each repetition
    # numpy: fresh inputs for each repetition, made before it (untimed): `rep -> (items,
    # expected)`. joblib keeps the memmapped copy of an array it has already seen, so sending
    # the very same arrays again would time its cache, not the transfer.
    regen: Callable[[int], tuple[list[Any], list[Any]]] | None = None
    n_total: int = 0

    def __post_init__(self) -> None:
        self.n_total = len(self.items)


def make_workloads(profile: dict[str, Any], names: set[str], workers: int) -> list[Workload]:
    out = []
    if "tiny" in names:
        n = profile["tiny"]
        items = list(range(n))
        out.append(Workload("tiny", f"(1) {n:,} tiny tasks: x*x", workloads.square, items,
                            [x * x for x in items], list(range(8 * workers)),
                            reduced={"dask": profile["dask_tiny"]}))
    if "cpu" in names:
        n = profile["cpu"]
        n_iters, took = workloads.calibrate_spin(TASK_S)
        say(f"calibrated spin({n_iters:,}) = {took * 1e3:.2f} ms of CPU in this process")
        value = workloads.spin(n_iters)
        items = [n_iters] * n
        out.append(Workload("cpu", f"(2) {n:,} tasks of ~{TASK_S * 1e3:.0f} ms CPU each "
                            f"(spin({n_iters:,}), {took * 1e3:.2f} ms of CPU measured serially)",
                            workloads.spin, items, [value] * n, [n_iters] * (2 * workers),
                            serial_items=[n_iters] * max(1, int(n * SERIAL_SAMPLE))))
    if "numpy" in names:
        import numpy as np

        n = profile["numpy"]
        rng = np.random.default_rng(0)
        per = ARRAY_BYTES // 8

        def regen(rep: int, n: int = n) -> tuple[list[Any], list[Any]]:
            # n distinct arrays (no pickle memo sharing), new in every repetition; constant
            # values make the expected sums exact whatever the memory alignment
            arrays = [np.full(per, float(rep * n + i + 1)) for i in range(n)]
            return arrays, [float(rep * n + i + 1) * per for i in range(n)]

        items, expected = regen(0)
        out.append(Workload("numpy", f"(3) {n} tasks, each a distinct "
                            f"{ARRAY_BYTES // 2**20} MB float64 array -> arr.sum()",
                            workloads.array_sum, items, expected,
                            [rng.random(per) for _ in range(2 * workers)], regen=regen))
    return out


# --------------------------------------------------------------------------------------- runner
@dataclass
class Row:
    rival: str
    start_method: str = ""
    chunking: str = ""
    n: int = 0
    times: list[float] = field(default_factory=list)
    error: str | None = None
    note: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    @property
    def rate(self) -> float | None:
        m = self.median
        return self.n / m if m else None


def _same(a: Any, b: Any) -> bool:
    # numpy's pairwise float sum depends on the buffer's alignment: compare floats loosely
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9)
    return a == b


def check(result: Any, expected: Sequence[Any]) -> None:
    result = list(result)
    if len(result) != len(expected):
        raise AssertionError(f"wrong result: {len(result)} values, {len(expected)} expected")
    if result != list(expected) and not all(map(_same, result, expected)):
        bad = next(i for i, (a, b) in enumerate(zip(result, expected, strict=False)) if not _same(a, b))
        raise AssertionError(f"wrong result at {bad}: {result[bad]!r} != {expected[bad]!r}")


def run_workload(wl: Workload, rival_types: list[type[Rival]], workers: int, reps: int,
                 timeout: float) -> tuple[list[Row], list[float]]:
    rows: dict[str, Row] = {}
    live: list[Rival] = []
    for cls in rival_types:
        rival = cls(workers)
        n = min(len(wl.items), wl.reduced.get(rival.name, len(wl.items)))
        row = rows[rival.name] = Row(rival.name, n=n, chunking=rival.chunking(n))
        if n < len(wl.items):
            row.note = f"reduced to {n:,} of {len(wl.items):,} tasks (~2 ms/task: minutes otherwise)"
        try:
            with time_limit(timeout):
                t0 = time.perf_counter()
                rival.start()
                check(rival.run(wl.fn, wl.warmup), [wl.fn(x) for x in wl.warmup])
                gc.collect()
            row.start_method = rival.start_method
            live.append(rival)
            say(f"  {rival.name}: started and warmed up in {time.perf_counter() - t0:.1f} s")
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            row.error = f"{type(exc).__name__}: {exc}"[:200]
            say(f"  {rival.name}: n/a ({row.error})")
            with contextlib.suppress(BaseException), time_limit(30):
                rival.close()
    serial: list[float] = []  # serial wall time (scaled sample), per repetition
    serial_cpu: list[float] = []  # the same runs' CPU time: what a quiet machine would take
    try:
        for rep in range(reps):
            order = live[rep % len(live):] + live[:rep % len(live)] if live else []
            if wl.regen is not None and rep > 0:
                wl.items = wl.expected = []
                gc.collect()
                wl.items, wl.expected = wl.regen(rep)
            if wl.serial_items is not None:  # the serial baseline shares the noise too
                gc.collect()
                t0, c0 = time.perf_counter(), time.process_time()
                for x in wl.serial_items:
                    wl.fn(x)
                scale = len(wl.items) / len(wl.serial_items)
                serial.append((time.perf_counter() - t0) * scale)
                serial_cpu.append((time.process_time() - c0) * scale)
            for rival in order:
                row = rows[rival.name]
                if row.error:
                    continue
                items = wl.items[:row.n]
                gc.collect()  # do not bill one rival for the garbage of the previous one
                try:
                    with time_limit(timeout):
                        t0 = time.perf_counter()
                        result = rival.run(wl.fn, items)
                        took = time.perf_counter() - t0
                    if rep == 0:
                        check(result, wl.expected[:row.n])
                    del result
                except BaseException as exc:
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    row.error = f"{type(exc).__name__}: {exc}"[:200]
                    say(f"  {rival.name}: failed ({row.error})")
                    continue
                row.times.append(took)
                say(f"  rep {rep + 1}/{reps} {rival.name:16s} {took:8.3f} s  "
                    f"{row.n / took:12,.0f} tasks/s")
    finally:
        for rival in live:
            try:
                with time_limit(60):
                    rival.close()
            except BaseException as exc:
                say(f"  {rival.name}: close failed ({type(exc).__name__}: {exc})")
    return list(rows.values()), (serial, serial_cpu)


# --------------------------------------------------------------------------------------- report

# ------------------------------------------------------------------------------ graph section
GRAPH_LEAVES = {"quick": 10_000, "default": 10_000, "full": 10_000}
ROUND_TRIPS = 200  # samples of one trivial submit(...).result(), after a warm-up


def tree_reduce(submit: Callable[..., Any], leaves: int) -> Any:
    """Submit-based pairwise tree reduction of `leaves` inc() leaves: 2 * leaves - 1 tasks."""
    level = [submit(workloads.inc, i) for i in range(leaves)]
    while len(level) > 1:
        level = [submit(workloads.add, level[i], level[i + 1]) if i + 1 < len(level)
                 else level[i] for i in range(0, len(level), 2)]
    return level[0]


def round_trips(submit: Callable[..., Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        submit(workloads.inc, 1).result()
        out.append(time.perf_counter() - t)
    return out


@dataclass
class GraphRow:
    rival: str
    tree_s: list[float] = field(default_factory=list)
    rtt_s: list[float] = field(default_factory=list)
    error: str = ""


def run_graph(profile_name: str, workers: int, reps: int, timeout: float,
              rival_names: set[str]) -> tuple[int, list[GraphRow]]:
    """taskscope's Pool.submit against dask.distributed's client.submit, the same workers:
    each side started once and warmed up; repetitions alternate which side goes first."""
    from dask.distributed import Client, LocalCluster

    from taskscope.pool import Pool

    leaves = GRAPH_LEAVES[profile_name]
    expected = sum(range(1, leaves + 1))
    sides: dict[str, Any] = {}
    closers: list[Callable[[], None]] = []
    try:
        if "taskscope" in rival_names:
            pool = Pool(workers, name="bench-graph")
            closers.append(pool.shutdown)
            sides["taskscope"] = pool.submit
        if "dask" in rival_names:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
            closers[:0] = [client.close, cluster.close]

            def dask_submit(fn: Callable[..., Any], *args: Any) -> Any:
                return client.submit(fn, *args, pure=False)

            sides["dask"] = dask_submit
        rows = {name: GraphRow(name) for name in sides}
        for submit in sides.values():  # warm-up: workers started, functions imported
            with time_limit(timeout):
                check([tree_reduce(submit, 500).result()], [sum(range(1, 501))])
                round_trips(submit, 50)
        names = list(sides)
        for rep in range(reps):
            for name in names[rep % len(names):] + names[:rep % len(names)]:
                row = rows[name]
                if row.error:
                    continue
                say(f"  graph rep {rep + 1}/{reps}: {name}")
                gc.collect()
                try:
                    with time_limit(timeout):
                        t = time.perf_counter()
                        value = tree_reduce(sides[name], leaves).result()
                        row.tree_s.append(time.perf_counter() - t)
                        check([value], [expected])
                        row.rtt_s.extend(round_trips(sides[name], ROUND_TRIPS))
                except Exception as exc:
                    row.error = f"{type(exc).__name__}: {exc}"[:200]
        return leaves, list(rows.values())
    finally:
        for close in closers:
            with contextlib.suppress(Exception):
                close()


def render_graph(leaves: int, rows: list[GraphRow], reps: int) -> tuple[list[str], list[str]]:
    n_tasks = 2 * leaves - 1
    out = [f"## graph: {leaves:,}-leaf tree reduction ({n_tasks:,} submitted tasks, pairwise "
           f"add) and one trivial submit(inc, 1).result() round trip", "",
           "| rival | tree median s | tasks/s | vs dask | round trip median ms | "
           "round trip p90 ms | spread tree (min-max s) |", "|---|---|---|---|---|---|---|"]
    rate = {r.rival: n_tasks / statistics.median(r.tree_s) for r in rows if r.tree_s}
    rtt = {r.rival: statistics.median(r.rtt_s) for r in rows if r.rtt_s}
    for r in rows:
        if not r.tree_s:
            out.append(f"| {r.rival} | n/a | n/a | n/a | n/a | n/a | n/a: {r.error} |")
            continue
        ratio = f"{rate[r.rival] / rate['dask']:.2f}x" if "dask" in rate else "-"
        p90 = sorted(r.rtt_s)[int(0.9 * len(r.rtt_s))] if r.rtt_s else float("nan")
        name = f"**{r.rival}**" if r.rival == "taskscope" else r.rival
        out.append(f"| {name} | {statistics.median(r.tree_s):.3f} | {fmt_rate(rate[r.rival])} | "
                   f"{ratio} | {rtt.get(r.rival, float('nan')) * 1e3:.3f} | {p90 * 1e3:.3f} | "
                   f"{min(r.tree_s):.3f}-{max(r.tree_s):.3f} |")
    out += ["", f"- both sides submit every task from the caller (dask: `client.submit(add, a, "
            f"b)`, `pure=False`); medians of {reps} trees and {ROUND_TRIPS} x {reps} round "
            "trips (after a warm-up)", ""]
    verdicts = []
    if "taskscope" in rate and "dask" in rate:
        ratio = rate["taskscope"] / rate["dask"]
        verdicts.append(f"(4) graph: taskscope at {ratio:.2f}x dask's tree-reduction "
                        f"throughput; target >= 5x: {'met' if ratio >= 5 else 'MISSED'}")
    if "taskscope" in rtt:
        ms = rtt["taskscope"] * 1e3
        verdicts.append(f"(5) graph: taskscope round trip {ms:.3f} ms (dask "
                        f"{rtt.get('dask', float('nan')) * 1e3:.3f} ms); target < 1 ms: "
                        f"{'met' if ms < 1 else 'MISSED'}")
    return out, verdicts

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_lines(workers: int, profile_name: str, reps: int, load_before: str) -> list[str]:
    pkgs = ["taskscope", "mpire", "loky", "joblib", "dask", "distributed", "numpy", "pyzmq",
            "cloudpickle"]
    return [
        f"- CPU: {cpu_model()}; {os.cpu_count()} logical CPUs, {usable_cpus()} usable; "
        f"{workers} workers per rival",
        f"- Python {platform.python_version()} ({platform.python_implementation()}) on "
        f"{platform.system()} {platform.release()}",
        "- Packages: " + ", ".join(f"{p} {version(p)}" for p in pkgs),
        f"- Profile: {profile_name}, median of {reps} interleaved repetitions; load average "
        f"before: {load_before}, after: {loadavg()}",
    ]


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def fmt_rate(r: float | None) -> str:
    if r is None:
        return "n/a"
    return f"{r:,.0f}" if r >= 100 else f"{r:,.1f}"


def render(results: list[tuple[Workload, list[Row], tuple[list[float], list[float]]]],
           header: list[str], workers: int,
           graph_parts: Sequence[tuple[list[str], list[str]]] = ()) -> tuple[str, list[str]]:
    out = ["# taskscope benchmarks", "", *header, ""]
    verdicts: list[str] = []
    for wl, rows, (serial, serial_cpu) in results:
        rivals = [r for r in rows if r.rival != "taskscope" and r.rate]
        best = max(rivals, key=lambda r: r.rate) if rivals else None
        serial_s = statistics.median(serial) if serial else None
        cpu_s = statistics.median(serial_cpu) if serial_cpu else None
        out += [f"## {wl.title}", ""]
        cols = ["rival", "start method", "chunksize", "tasks", "median s", "tasks/s",
                "vs best rival"]
        if serial_s:
            cols += ["parallel eff.", "eff. vs CPU time"]
        cols.append("spread (min-max s)")
        out += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for r in sorted(rows, key=lambda r: -(r.rate or 0)):
            if r.error and not r.times:
                cells = [r.rival, r.start_method or "-", r.chunking, f"{r.n:,}", "n/a", "n/a",
                         "n/a"] + (["n/a", "n/a"] if serial_s else []) + [f"n/a: {r.error}"]
            else:
                ratio = f"{r.rate / best.rate:.2f}x" if best else "-"
                if best is r:
                    ratio += " (best)"
                cells = [f"**{r.rival}**" if r.rival == "taskscope" else r.rival,
                         r.start_method, r.chunking, f"{r.n:,}", f"{r.median:.3f}",
                         fmt_rate(r.rate), ratio]
                if serial_s:
                    eff = (serial_s * r.n / wl.n_total) / r.median / workers
                    eff_cpu = (cpu_s * r.n / wl.n_total) / r.median / workers
                    cells += [f"{eff:.0%}", f"{eff_cpu:.0%}"]
                spread = f"{min(r.times):.3f}-{max(r.times):.3f}"
                if r.error:
                    spread += f" (then failed: {r.error})"
                cells.append(spread)
            out.append("| " + " | ".join(cells) + " |")
        notes = [f"{r.rival}: {r.note}" for r in rows if r.note]
        if serial_s:
            notes.append(f"parallel eff. = (serial time / wall time) / {workers} workers; "
                         f"serial time = {serial_s:.2f} s (median wall time; {SERIAL_SAMPLE:.0%} "
                         f"of the tasks run in the benchmark process each repetition, scaled). "
                         f"It shares the neighbours' noise, and can exceed 100% when they slow a "
                         f"lone process more than a pool")
            notes.append(f"eff. vs CPU time: the same with the serial run's CPU time, "
                         f"{cpu_s:.2f} s (median), i.e. against an undisturbed serial run: the "
                         f"conservative number, lowered by any load on the machine")
        if notes:
            out += [""] + [f"- {n}" for n in notes]
        out.append("")
        ts = next((r for r in rows if r.rival == "taskscope"), None)
        if ts and ts.rate and best:
            ratio = ts.rate / best.rate
            if wl.name == "tiny":
                verdicts.append(f"(1) tiny: taskscope at {ratio:.2f}x the best rival ({best.rival}); "
                                f"target >= 1.00x: {'met' if ratio >= 1 else 'MISSED'}")
            elif wl.name == "cpu" and serial_s and cpu_s:
                eff = serial_s / ts.median / workers
                eff_cpu = cpu_s / ts.median / workers
                verdict = ("met" if eff_cpu >= 0.9 else "met on wall time, not on CPU time"
                           if eff >= 0.9 else "MISSED")
                verdicts.append(f"(2) cpu: taskscope parallel efficiency {eff:.0%} against the "
                                f"serial wall time, {eff_cpu:.0%} against its CPU time "
                                f"({ratio:.2f}x the best rival, {best.rival}); target >= 90%: "
                                f"{verdict}")
            elif wl.name == "numpy":
                mp = next((r for r in rows if r.rival == "mpire" and r.rate), None)
                if mp:
                    m = ts.rate / mp.rate
                    verdicts.append(f"(3) numpy: taskscope at {m:.2f}x MPIRE ({ratio:.2f}x the "
                                    f"best rival, {best.rival}); target >= 1.00x MPIRE: "
                                    f"{'met' if m >= 1 else 'MISSED'}")
    for lines, extra in graph_parts:
        out += lines
        verdicts += extra
    if verdicts:
        out += ["## Targets", ""] + [f"- {v}" for v in verdicts] + [""]
    return "\n".join(out), verdicts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="median of 3 (~4 minutes)")
    size.add_argument("--full", action="store_true", help="larger inputs, median of 5")
    ap.add_argument("--only", metavar="NAME", help="comma-separated workloads (tiny, cpu, "
                    "numpy, graph or 1, 2, 3, 4) and/or rivals (taskscope, multiprocessing, "
                    "futures, loky, joblib, mpire, dask) to run")
    ap.add_argument("--markdown", metavar="FILE", help="also write the table to FILE")
    ap.add_argument("--workers", type=int, default=None, help="workers per rival "
                    "(default: usable CPUs)")
    ap.add_argument("--reps", type=int, default=None, help="override the repetitions")
    args = ap.parse_args(argv)

    profile_name = "quick" if args.quick else "full" if args.full else "default"
    profile = dict(PROFILES[profile_name])
    if args.reps:
        profile["reps"] = args.reps
    workers = args.workers or usable_cpus()
    wl_names = {"tiny", "cpu", "numpy", "graph"}
    rival_types = list(RIVALS)
    if args.only:
        aliases = {"1": "tiny", "2": "cpu", "3": "numpy", "4": "graph"}
        wanted = {aliases.get(w.strip().lower(), w.strip().lower()) for w in args.only.split(",")}
        known = wl_names | {r.name for r in RIVALS}
        unknown = wanted - known
        if unknown:
            ap.error(f"--only: unknown name(s) {sorted(unknown)}; choose from {sorted(known)}")
        if wanted & wl_names:
            wl_names &= wanted
        if wanted - {"tiny", "cpu", "numpy", "graph"}:
            rival_types = [r for r in RIVALS if r.name in wanted]

    warnings.simplefilter("ignore")  # dask's "large graph" and similar chatter
    load_before = loadavg()
    t_start = time.perf_counter()
    results = []
    for wl in make_workloads(profile, wl_names, workers):
        say(f"{wl.title}")
        rows, serial = run_workload(wl, rival_types, workers, profile["reps"], profile["timeout"])
        results.append((wl, rows, serial))
        wl.items = wl.expected = wl.warmup = []  # free the numpy arrays before the next one
        gc.collect()
    graph_parts = []
    graph_rivals = {r.name for r in rival_types} & {"taskscope", "dask"}
    if "graph" in wl_names and graph_rivals:
        say("graph: tree reduction and round trip, taskscope vs dask.distributed")
        leaves, rows = run_graph(profile_name, workers, profile["reps"], profile["timeout"],
                                 graph_rivals)
        graph_parts.append(render_graph(leaves, rows, profile["reps"]))
    header = machine_lines(workers, profile_name, profile["reps"], load_before)
    header.append(f"- Whole run: {time.perf_counter() - t_start:.0f} s")
    text, _ = render(results, header, workers, graph_parts)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
        say(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
