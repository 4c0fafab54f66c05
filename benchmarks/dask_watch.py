"""What watching a Dask cluster costs: a 10,000-task workload watched and unwatched.

    python benchmarks/dask_watch.py [--quick|--full] [--markdown FILE]

One LocalCluster(2 workers x 1 thread, processes, loopback) runs in this process; a real
kernel connects a Client to it and runs the same ``client.map(inc, range(n))`` + gather in
turns: plain, and watched (``display(taskscope.dashboard(client))`` before the map: the
scheduler plugin, the watch thread, the collector and the dashboard widget all at work;
the watch is closed again after the map, so the plain runs have no plugin on the
scheduler). Which goes first alternates. Reported: the map's wall time (timed in the
cell), the paired overhead, the comm traffic the dashboard sent to the browser while the
map ran (JSON + buffers, as the browser receives it), the events the watch published and
the bytes of batches the scheduler sent over the Client's connection.

Then, simulated (no cluster): the scheduler plugin alone fed the transitions of 1,000
workers finishing tasks at 5,000 tasks/s (about the most a Dask scheduler sustains), to
show that what it sends per second is bounded by aggregation at the source, not by the
cluster's size, and what each transition costs the scheduler's event loop.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgpack
from jupyter_client.manager import KernelManager

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dashboard import comm_bytes, drain, paired, run_cell  # noqa: E402  (the kernel harness)

SETUP = """
import time, taskscope
from distributed import Client
from taskscope.pool.dask import DaskWatch, watch
DaskWatch.measure = True
client = Client({address!r})
def inc(x):
    return x + 1
client.gather(client.map(inc, range(500), pure=False))  # warm up
"""
WATCH = """
_dash = taskscope.dashboard(client, plugin={plugin})
display(_dash)
"""
RUN = """
import time as _t
_t0 = _t.perf_counter()
_f = client.map(inc, range({n}), pure=False)
_r = client.gather(_f)
print("WALL", _t.perf_counter() - _t0, len(_r))
del _f, _r
while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)):
    _t.sleep(0.05)  # every result forgotten: the next run starts from an empty scheduler
"""
UNWATCH = """
_t.sleep(1.0)  # the last batches
_w = watch(client)
_st = _dash._collector.state
print("EVENTS", _w._pub._seq, "BATCHES", _w.batches, "BYTES", _w.bytes_in,
      "DONE", _st.totals["done"], "STREAM", _st.stream.total)
_w.close()
_dash.close()
"""
MODES = {"plain": None, "plugin": True, "polling": False}


def kernel_bench(n: int, reps: int) -> dict[str, Any]:
    import re

    import distributed
    import psutil

    keys = ("wall", "sched_cpu", "kernel_cpu", "sent", "cells", "events", "batches",
            "bytes_in", "done", "stream")
    res: dict[str, dict[str, list[float]]] = {m: {k: [] for k in keys} for m in MODES}
    me = psutil.Process()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cl:
        km = KernelManager(kernel_name="python3")
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            kernel = psutil.Process(km.provisioner.process.pid)
            run_cell(kc, SETUP.format(address=cl.scheduler_address))
            for rep in range(reps):
                names = list(MODES)
                names = names[rep % len(names):] + names[:rep % len(names)]
                for mode in names:
                    r = res[mode]
                    if MODES[mode] is not None:
                        run_cell(kc, WATCH.format(plugin=MODES[mode]))
                        drain(kc)
                    s0, k0 = sum(me.cpu_times()[:2]), sum(kernel.cpu_times()[:2])
                    t0 = time.perf_counter()
                    msgs, wall = run_cell(kc, RUN.format(n=n))
                    r["cells"].append(time.perf_counter() - t0)
                    # The scheduler runs in this process (the LocalCluster's event loop).
                    r["sched_cpu"].append(sum(me.cpu_times()[:2]) - s0)
                    r["kernel_cpu"].append(sum(kernel.cpu_times()[:2]) - k0)
                    r["wall"].append(wall)
                    r["sent"].append(comm_bytes(msgs))
                    if MODES[mode] is not None:
                        out, _ = run_cell(kc, UNWATCH)
                        text = "".join(m["content"].get("text", "") for m in out
                                       if m["msg_type"] == "stream")
                        found = re.search(r"EVENTS (\d+) BATCHES (\d+) BYTES (\d+) DONE (\d+) "
                                          r"STREAM (\d+)", text)
                        assert found, text
                        for key, value in zip(("events", "batches", "bytes_in", "done", "stream"),
                                              found.groups(), strict=True):
                            r[key].append(int(value))
                    drain(kc)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    med = statistics.median
    out: dict[str, Any] = {"n": n, "reps": reps, "modes": {}}
    base = res["plain"]
    for mode, r in res.items():
        row = {"wall_s": med(r["wall"]), "overhead": paired(base["wall"], r["wall"]),
               "sched_cpu_s": statistics.fmean(r["sched_cpu"]),
               "kernel_cpu_s": statistics.fmean(r["kernel_cpu"]),
               "traffic_Bps": sum(r["sent"]) / sum(r["cells"])}
        if r["events"]:
            row.update(events_per_map=med(r["events"]),
                       events_per_s=sum(r["events"]) / sum(r["wall"]),
                       batches_per_map=med(r["batches"]),
                       sched_Bps=sum(r["bytes_in"]) / sum(r["wall"]),
                       done=[int(d) for d in r["done"]], stream_per_map=med(r["stream"]))
        out["modes"][mode] = row
    return out


# ---------------------------------------------------------------------------------------
# The plugin alone at 1,000 workers (simulated: a stand-in for the few scheduler attributes
# the plugin reads; the transitions are the ones a real scheduler makes per task).
class _Status:
    name = "running"


def _fake_scheduler(n_workers: int) -> Any:
    workers = {}
    for i in range(n_workers):
        workers[f"tcp://10.0.{i // 250}.{i % 250}:40000"] = SimpleNamespace(
            memory=SimpleNamespace(managed=10_000_000, unmanaged=90_000_000, spilled=0,
                                   process=100_000_000),
            nbytes=10_000_000, processing=set(), name=str(i), nthreads=4,
            memory_limit=8_000_000_000, status=_Status(), metrics={"cpu": 95.0},
            resources={}, pid=1000 + i)
    sent: list[bytes] = []
    sched = SimpleNamespace(tasks={}, workers=workers, plugins={},
                            log_event=lambda topic, msg: sent.append(msgpack.packb(msg)))
    return sched, sent


def simulate(n_workers: int = 1000, rate: float = 5000.0, seconds: float = 5.0,
             threads: int = 4) -> dict[str, Any]:
    from taskscope.pool.dask.plugin import (
        FLUSH_INTERVAL_S,
        FULL_INTERVAL_S,
        WORKER_ROWS_PER_S,
        WORKERS_INTERVAL_S,
        TaskscopePlugin,
    )

    sched, sent = _fake_scheduler(n_workers)
    plugin = TaskscopePlugin("sim", "sim", "client")
    plugin.scheduler = sched
    addrs = list(sched.workers)
    n = int(rate * seconds)
    per_flush = int(rate * FLUSH_INTERVAL_S)
    workers_every = round(max(WORKERS_INTERVAL_S, n_workers / WORKER_ROWS_PER_S) / FLUSH_INTERVAL_S)
    full_every = round(FULL_INTERVAL_S / FLUSH_INTERVAL_S)
    prefix = SimpleNamespace(name="work")
    hook_s = 0.0
    t_task = threads * n_workers / rate  # each thread busy all the time
    clock = 1_000_000.0
    for i in range(n):
        key = f"work-{i}"
        sched.tasks[key] = SimpleNamespace(prefix=prefix, exception_blame=None)
        w = addrs[i % n_workers]
        start = clock + (i // n_workers) * t_task / threads
        kw = {"worker": w, "thread": (i // n_workers) % threads,
              "startstops": [{"action": "compute", "start": start, "stop": start + t_task}]}
        t0 = time.perf_counter()
        plugin.transition(key, "released", "waiting", stimulus_id="s")
        plugin.transition(key, "waiting", "processing", stimulus_id="s")
        plugin.transition(key, "processing", "memory", stimulus_id="s", **kw)
        plugin.transition(key, "memory", "forgotten", stimulus_id="s")
        hook_s += time.perf_counter() - t0
        del sched.tasks[key]
        if (i + 1) % per_flush == 0:
            # Simulated time: worker rows and full batches when they would be due.
            j = (i + 1) // per_flush
            now = time.time()
            plugin._workers_at = 0.0 if j % workers_every == 0 else now
            plugin._full_at = 0.0 if j % full_every == 0 else now
            t0 = time.perf_counter()
            plugin.flush()
            hook_s += time.perf_counter() - t0
    return {"workers": n_workers, "rate": rate, "seconds": seconds, "batches": len(sent),
            "bytes_per_s": sum(map(len, sent)) / seconds,
            "max_batch": max(map(len, sent)), "us_per_task": 1e6 * hook_s / n}


def markdown(k: dict[str, Any], sims: list[dict[str, Any]]) -> str:
    m = k["modes"]
    cols = list(m)

    def row(label: str, fmt: Any, key: str | None = None) -> str:
        cells = []
        for c in cols:
            v = m[c].get(key) if key else None
            cells.append(fmt(m[c], v) if (key is None or v is not None) else "—")
        return f"| {label} | " + " | ".join(cells) + " |"

    def over(r: dict[str, Any], v: Any) -> str:
        med, lo, hi = r["overhead"]
        return "—" if r is m["plain"] else f"{med:+.1%} ({lo:+.1%} .. {hi:+.1%})"

    def cpu(key: str) -> Any:
        return lambda r, v: (f"{v:.2f} s" if r is m["plain"]
                             else f"{v:.2f} s ({v / m['plain'][key] - 1:+.1%})")

    lines = [
        f"Dask watch cost ({k['n']:,}-task `client.map(inc)` + gather, LocalCluster(2 workers x "
        f"1 thread, processes), {k['reps']} repetitions of each, interleaved; Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs):",
        "",
        "| measure | " + " | ".join({"plain": "plain", "plugin": "watched (plugin)",
                                      "polling": "watched (polling)"}[c] for c in cols) + " |",
        "|---|" + "---|" * len(cols),
        row("map + gather wall time, median", lambda r, v: f"{v:.2f} s", "wall_s"),
        row("overhead of the map (median of pairs; quartiles)", over),
        row("scheduler process CPU per map (mean)", cpu("sched_cpu_s"), "sched_cpu_s"),
        row("kernel CPU per map (mean)", cpu("kernel_cpu_s"), "kernel_cpu_s"),
        row("comm traffic to the browser while the map ran",
            lambda r, v: "—" if r is m["plain"] else f"{v / 1000:.1f} kB/s", "traffic_Bps"),
        row("taskscope events published per map (per s)",
            lambda r, v: f"{v:,.0f} ({r['events_per_s']:.0f}/s)", "events_per_map"),
        row("batches from the scheduler per map (bytes/s)",
            lambda r, v: f"{v:,.0f} ({r['sched_Bps'] / 1000:.1f} kB/s)", "batches_per_map"),
        row("task-stream bars per map", lambda r, v: f"{v:,.0f}", "stream_per_map"),
        row("done count the dashboard ended with", lambda r, v: ", ".join(f"{d:,}" for d in v),
            "done"),
        "",
        "Simulated: the scheduler plugin alone, fed the 4 transitions per task of a cluster "
        "whose threads are all busy, at 5,000 tasks/s for 5 s (the rest of the scheduler is "
        "not simulated):",
        "",
        "| workers | tasks/s | batches/s | bytes/s sent to the kernel | largest batch | plugin time per task |",
        "|---|---|---|---|---|---|",
    ]
    for s in sims:
        lines.append(f"| {s['workers']:,} | {s['rate']:,.0f} | {s['batches'] / s['seconds']:.0f} | "
                     f"{s['bytes_per_s'] / 1000:.0f} kB/s | {s['max_batch'] / 1000:.0f} kB | "
                     f"{s['us_per_task']:.1f} µs |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 repetitions (the default)")
    ap.add_argument("--full", action="store_true", help="7 repetitions")
    ap.add_argument("-n", type=int, default=10_000, help="tasks per map")
    ap.add_argument("--markdown", help="also write the tables to this file")
    args = ap.parse_args()
    reps = 7 if args.full else 3
    sims = [simulate(n_workers=w) for w in (10, 100, 1000)]
    k = kernel_bench(args.n, reps)
    text = markdown(k, sims)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
