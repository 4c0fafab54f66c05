"""The demo: a pool on a real workload, watched through its event stream.

    python -m taskscope.demo            # in a terminal: text progress, then a summary
    python -m taskscope.demo --lab      # open the quick-start notebook in JupyterLab

The terminal demo subscribes to the pool's signed event stream exactly as the notebook
dashboard does, builds the same State, and prints what the dashboard would show.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import pathlib
import subprocess
import sys
import time

from taskscope.pool import Pool, subscribe
from taskscope.pool.progress import TextProgress

from .state import State


def count_primes(bounds: tuple[int, int]) -> int:
    """Primes in [lo, hi): a CPU-bound task whose cost grows with the numbers."""
    lo, hi = bounds
    return sum(1 for n in range(max(lo, 2), hi)
               if all(n % d for d in range(2, math.isqrt(n) + 1)))


def digest(seed: int) -> str:
    """Hash 2 MB of pseudo-random bytes: a task with a result to ship back."""
    data = hashlib.sha256(str(seed).encode()).digest() * (2 * 1024 * 1024 // 32)
    if seed == 97:
        raise ValueError(f"seed {seed} is reserved (a deliberate failure, to show the errors)")
    return hashlib.sha256(data).hexdigest()[:16]


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def summary(state: dict) -> str:
    lines = [f"pool {state['pool']['name']!r}: {state['pool']['status']}, "
             f"{state['totals']['done']} items done, {state['totals']['erred']} erred, "
             f"{state['seq']} events, {state['gaps']} missed"]
    lines.append("calls:")
    for c in state["calls"]:
        n = c["counts"]
        lines.append(f"  #{c['id']:<3}{c['api']:<15}{c['fn']:<14}{n['released'] + n['memory']:>7} done"
                     f"{n['erred']:>4} erred  {c['status']:<8} called at "
                     f"{os.path.basename(c['callsite']['file']) if c['callsite'] else '?'}:"
                     f"{c['callsite']['line'] if c['callsite'] else ''}")
    lines.append("workers (MPIRE-style insights):")
    for w in state["workers"]:
        ins = w["insights"]
        lines.append(f"  w{w['id']} pid {w['pid']}: {w['tasks_done']:>6} items, "
                     f"start-up {ins['startup'] * 1e3:.0f} ms, working {ins['working']:.2f} s, "
                     f"waiting {ins['waiting']:.2f} s, utilisation {w['utilisation']:.0%}, "
                     f"peak RSS {_fmt_bytes(w['rss'])}, {w['status']}")
    for e in state.get("errors", []):
        lines.append(f"error in {e['fn']}({e['arg']}) on worker {e['worker']}: "
                     f"{e['exc_type']}: {e['message']}")
    return "\n".join(lines)


def run_terminal(n_workers: int | None) -> int:
    with Pool(n_workers, name="demo") as pool:
        info = pool.connection_info()
        sub = subscribe(info["events"], info["key"])
        state = State()
        print(f"taskscope demo: {pool.n_workers} workers ({pool.start_method}); "
              f"events on a private ipc socket, signed with a per-pool key")
        ranges = [(i, i + 5_000) for i in range(0, 400_000, 5_000)]
        call = _run_with_bar(pool, "map", count_primes, ranges)
        print(f"primes below 400,000: {sum(call)}")
        try:
            _run_with_bar(pool, "map", digest, range(200))
        except ValueError as exc:
            print(f"the failing item raised here, as it would in a notebook: {exc}")
            print(f"  (worker traceback chained as __cause__; pool.errors has {len(pool.errors)})")
        squares = sum(pool.imap_unordered(lambda x: x * x, range(100_000)))
        print(f"sum of 100,000 squares via a lambda: {squares}")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and state.pool["status"] != "closed":
        state.apply_all(sub.recv(timeout=0.2))
    state.apply_all(sub.recv(timeout=0.2))
    sub.close()
    print()
    print(summary(state.to_json()))
    return 0


def _run_with_bar(pool: Pool, api: str, fn, items):
    from taskscope.pool import _hooks

    def show(_pool, call):  # a text bar for this demo's calls, as %load_ext gives in IPython
        TextProgress(call).start()

    _hooks.add("call_started", show)
    try:
        result = getattr(pool, api)(fn, items)
        time.sleep(0.15)  # let the bar draw its last line
        return result
    finally:
        time.sleep(0.15)
        _hooks.remove("call_started", show)


def run_lab() -> int:
    notebook = pathlib.Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"
    if not notebook.exists():
        print(f"taskscope: {notebook} not found (run from a source checkout)", file=sys.stderr)
        return 2
    cmd = [sys.executable, "-m", "jupyter", "lab", str(notebook)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return subprocess.call(cmd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taskscope.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab", action="store_true", help="open the quick-start notebook in JupyterLab")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: CPUs)")
    args = parser.parse_args(argv)
    return run_lab() if args.lab else run_terminal(args.workers)


if __name__ == "__main__":
    sys.exit(main())
