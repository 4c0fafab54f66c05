"""Dask's picture -> taskscope events (docs/protocol.md): pure, no IO, no distributed import.

The scheduler plugin (plugin.py) and the polling fallback (poll.py) both produce *batches*
in one format; `Translator.batch()` turns each into taskscope events, so the State, the
panes, the pop-out page and the sidebar are the pool's own code. What maps to what:

    task prefix (key_split)        -> a call (api "dask") and its function (module "dask")
    worker address                 -> a worker id (0, 1, ...; a restarted worker is a new one)
    (worker, thread ident)         -> a task-stream lane (`lanes` of its worker)
    startstops of a finished task  -> a bar; transfers, disk and deserialisation are flagged
    erred task / its dependents    -> task.erred, dependents naming the task they blame

Times: Dask stamps with the scheduler's wall clock (workers' startstops are shifted to it);
taskscope's views use this machine's monotonic clock, so wall times are moved by the offset
between the two clocks here (a remote scheduler's clock is assumed NTP-close, as Dask does).
"""
from __future__ import annotations

import ast
import re
import time
from typing import Any

__all__ = ["FLAG_DESERIALIZE", "FLAG_DISK", "FLAG_TRANSFER", "Translator", "decode_stream"]

FLAG_ERRED, FLAG_TRANSFER, FLAG_DISK, FLAG_DESERIALIZE = 1, 4, 8, 16
_ACTION_FLAGS = {"transfer": FLAG_TRANSFER, "disk-read": FLAG_DISK, "disk-write": FLAG_DISK,
                 "deserialize": FLAG_DESERIALIZE}
COUNT_NAMES = ("waiting", "queued", "processing", "memory", "erred", "cancelled", "released")
_REPR = re.compile(r"^([A-Za-z_][\w.]*)\((.*)\)\s*$", re.S)

Event = tuple[str, float, dict[str, Any]]


def split_exception(text: str) -> tuple[str, str]:
    """``"ValueError('bad 13')"`` (Dask's repr of the exception) -> ("ValueError", "bad 13")."""
    m = _REPR.match(text or "")
    if not m:
        return "Exception", text or ""
    inner = m.group(2)
    try:
        value = ast.literal_eval(inner)
        if isinstance(value, str):
            inner = value
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    return m.group(1), inner


def decode_stream(stream: dict[str, Any] | None) -> list[list[Any]]:
    """The inverse of plugin.encode_stream: ``[prefix, worker, thread, action, start, stop,
    count, erred]`` per bar, times in the scheduler's wall clock."""
    if not stream:
        return []
    names, t0, unit = stream["names"], stream["t0"], stream["unit"]
    return [[names[p], names[w], thread, names[a], t0 + s * unit, t0 + e * unit, n, bool(err)]
            for p, w, thread, a, s, e, n, err in stream["bars"]]


class Translator:
    """Keeps the mapping (prefix -> call, address -> worker, thread -> lane) of one watch."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.call_rows: dict[int, dict[str, Any]] = {}  # the last call.counts body of each
        self.workers: dict[str, int] = {}
        self.worker_rows: dict[int, dict[str, Any]] = {}  # the last worker.info row of each
        self.gone: dict[int, str] = {}  # worker id -> why it left (died, shutdown)
        self.lanes: dict[tuple[str, int], int] = {}
        self._free_lanes: dict[str, list[int]] = {}  # lanes made for threads not seen yet
        self.n_lanes = 0
        self.working: dict[int, float] = {}  # compute seconds per worker (for utilisation)
        self.tasks_done: dict[int, int] = {}
        self.stream_dropped = 0
        self.errors_dropped = 0
        self.last_seq: int | None = None
        self.gaps = 0

    @staticmethod
    def offset() -> float:
        """wall time - monotonic time, now (follows clock adjustments batch by batch)."""
        return time.time() - time.monotonic()

    def _call(self, prefix: str) -> int:
        cid = self.calls.get(prefix)
        if cid is None:
            cid = self.calls[prefix] = len(self.calls) + 1
        return cid

    def _worker(self, addr: str, nthreads: int = 1) -> tuple[int, bool]:
        wid = self.workers.get(addr)
        if wid is not None:
            return wid, False
        wid = self.workers[addr] = len(self.workers)
        self._free_lanes[addr] = [self._new_lane() for _ in range(max(1, nthreads))]
        return wid, True

    def _new_lane(self) -> int:
        self.n_lanes += 1
        return self.n_lanes - 1

    def _lane(self, addr: str, thread: int) -> int:
        lane = self.lanes.get((addr, thread))
        if lane is None:
            free = self._free_lanes.setdefault(addr, [])
            lane = free.pop(0) if free else self._new_lane()  # e.g. a seceded task's thread
            self.lanes[(addr, thread)] = lane
        return lane

    def worker_lanes(self, addr: str) -> list[int]:
        used = [lane for (a, _t), lane in self.lanes.items() if a == addr]
        return sorted(used + self._free_lanes.get(addr, []))

    # ------------------------------------------------------------------ one batch
    def batch(self, b: dict[str, Any], now: float | None = None) -> list[Event]:
        """The events of one batch, in an order the State can apply."""
        off = self.offset()
        ts = (now if now is not None else time.monotonic())
        seq = b.get("seq")
        if isinstance(seq, int):
            if self.last_seq is not None and seq > self.last_seq + 1:
                self.gaps += seq - self.last_seq - 1
            self.last_seq = seq
        out: list[Event] = []
        rows = b.get("workers")
        if rows is not None:
            out += self._workers(rows, off, ts)
        for prefix, c in (b.get("prefixes") or {}).items():
            cid = self._call(prefix)
            body = {"call": cid, "api": "dask", "fn": prefix, "module": "dask",
                    "counts": dict(zip(COUNT_NAMES, (int(x) for x in c[:7]))),
                    "submitted": int(c[7]), "time": float(c[8])}
            self.call_rows[cid] = body
            out.append(("call.counts", ts, body))
        held = b.get("held")
        if isinstance(held, dict):  # bytes per prefix, for the cluster as a whole (1.4)
            out.append(("worker.info", ts, {"workers": [], "held": [
                [-1, f"dask.{prefix}", v[0], v[1]] for prefix, v in held.items()
                if isinstance(v, (list, tuple)) and len(v) == 2]}))  # Dask's comm makes tuples
        out += self._stream(decode_stream(b.get("stream")), off, ts)
        out += self._errors(b.get("errors") or (), off, ts)
        self.stream_dropped += int(b.get("stream_dropped") or 0)
        self.errors_dropped += int(b.get("errors_dropped") or 0)
        for addr, reason, t in b.get("removed") or ():
            wid = self.workers.get(addr)
            if wid is None or wid in self.gone:
                continue
            self.gone[wid] = reason
            row = self.worker_rows.get(wid, {})
            out.append(("worker.exited", t - off, {
                "worker": wid, "pid": row.get("pid"), "exitcode": None, "signal": None,
                "reason": reason, "insights": {}, "message": f"Dask removed {addr}"}))
        return out

    def _workers(self, rows: Any, off: float, ts: float) -> list[Event]:
        out: list[Event] = []
        info = []
        samples = []
        for (addr, name, nthreads, limit, status, rss, managed, unmanaged, spilled, cpu,
             processing, current, resources, pid) in rows:
            wid, new = self._worker(addr, nthreads)
            if wid in self.gone:
                continue
            if new:
                out.append(("worker.started", ts, {"worker": wid, "pid": pid}))
            busy = processing > 0
            label = addr.split("://", 1)[-1]
            row = {"worker": wid, "label": label, "address": addr, "name": name,
                   "nthreads": nthreads, "memory_limit": limit or None,
                   "status": ("busy" if busy else "idle") if status == "running" else
                   "starting" if status in ("init", "paused") else "exited",
                   "rss": rss, "managed": managed, "unmanaged": unmanaged, "spilled": spilled,
                   "cpu": cpu, "processing": processing, "current": current if busy else None,
                   "resources": resources, "pid": pid or None, "lanes": self.worker_lanes(addr),
                   "tasks_done": self.tasks_done.get(wid, 0)}
            if new:
                row["started"] = ts
            started = self.worker_rows.get(wid, row).get("started", ts)
            working = self.working.get(wid, 0.0)
            alive = max(0.0, (ts - started) * max(1, nthreads))
            row["insights"] = {"working": working, "waiting": max(0.0, alive - working)}
            row["started"] = started
            self.worker_rows[wid] = row
            info.append(row)
            samples.append([wid, cpu, rss, managed])
        if info:
            out.append(("worker.info", ts, {"workers": info}))
            out.append(("worker.samples", ts, {"samples": samples}))
        return out

    def _stream(self, bars: Any, off: float, ts: float) -> list[Event]:
        records = []
        touched: set[int] = set()
        for prefix, addr, thread, action, start, stop, count, erred in bars:
            wid, new = self._worker(addr)
            lane = self._lane(addr, thread)
            flags = _ACTION_FLAGS.get(action, 0) | (FLAG_ERRED if erred else 0)
            records.append([start - off, stop - off, lane, self._call(prefix), count, flags])
            if action == "compute":
                self.working[wid] = self.working.get(wid, 0.0) + max(0.0, stop - start)
                self.tasks_done[wid] = self.tasks_done.get(wid, 0) + count
                touched.add(wid)
        out: list[Event] = []
        # A lane seen for the first time must reach its worker's row before its bars.
        rows = []
        for wid in touched:
            row = self.worker_rows.get(wid)
            if row is not None:
                row["lanes"] = self.worker_lanes(row["address"])
                row["tasks_done"] = self.tasks_done.get(wid, 0)
                rows.append({"worker": wid, "lanes": row["lanes"], "tasks_done": row["tasks_done"]})
        if rows:
            out.append(("worker.info", ts, {"workers": rows}))
        if records:
            out.append(("task.stream", ts, {"records": records}))
        return out

    def _errors(self, errors: Any, off: float, ts: float) -> list[Event]:
        out: list[Event] = []
        for e in errors:
            exc_type, message = split_exception(e.get("exception", ""))
            blame = e.get("blame")
            tb = e.get("traceback") or ""
            if tb and not tb.startswith("Traceback"):
                tb = "Traceback (most recent call last):\n" + tb
            tb = f"{tb.rstrip()}\n{exc_type}: {message}\n" if tb else f"{exc_type}: {message}\n"
            n = int(e.get("n", 1))
            if blame is not None:
                what = f"{n} tasks" if n > 1 else "this task"
                message = f"{what} of '{e['prefix']}' failed because its input {blame!r} failed: {message}"
            wid = self.workers.get(e.get("worker") or "", -1)
            out.append(("task.erred", e.get("time", ts + off) - off, {
                "call": self._call(e["prefix"]), "task": 0, "worker": wid,
                "pid": self.worker_rows.get(wid, {}).get("pid"), "index": 0,
                "exc_type": exc_type, "message": message, "traceback": tb,
                "arg": e["key"], "key": e["key"], "blame": blame, "count": n,
                "worker_label": (e.get("worker") or "").split("://", 1)[-1]}))
        return out

    def replay(self, ts: float) -> list[Event]:
        """Everything known, as idempotent events: for a subscriber that just joined."""
        out: list[Event] = [("call.counts", ts, body) for body in self.call_rows.values()]
        rows = [row for wid, row in self.worker_rows.items() if wid not in self.gone]
        if rows:
            out.append(("worker.info", ts, {"workers": rows}))
        for wid, reason in sorted(self.gone.items()):
            row = self.worker_rows.get(wid, {})
            out.append(("worker.info", ts, {"workers": [dict(row, worker=wid)]}))
            out.append(("worker.exited", ts, {"worker": wid, "pid": row.get("pid"),
                                              "exitcode": None, "signal": None,
                                              "reason": reason, "insights": {}}))
        return out
