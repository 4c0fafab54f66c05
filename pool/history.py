"""The driver's bounded memory of what happened: the story a late subscriber is told.

::

    driver thread --emit(kind, ts, body)--> EventPublisher --> XPUB (the live stream)
                                   |
                                   +--> History.observe: task-stream ring, resource ring,
                                        recent errors, per-function time and colours,
                                        rows of exited workers, when calls ended

A subscriber that joins late (a dashboard displayed after the work, a pop-out page opened
later, a Jupyter server started after the pool) gets, in the ``history`` field of its join
snapshot, what every view draws and what the live stream alone would have given it only
from the start (docs/protocol.md, 1.3). ``Pool.task_stream()`` and ``Pool.report()`` read the
same records. Everything is bounded as the State is (docs/state.md): by ring capacities,
workers kept and function keys, never by the number of tasks run.

Cost: one record per finished chunk (two short array writes), nothing for the other task
events; the snapshot's history is built only on a join or when asked for.
"""
from __future__ import annotations

import array
import heapq
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from concurrent.futures import Future
from operator import itemgetter
from typing import Any

from .errors import PoolClosedError
from .profile_store import ProfileStore

__all__ = ["STREAM_WIDTH", "History", "Ring", "story", "task_records"]

STREAM_WIDTH = 6  # start, end, worker, color, count, flags: the State's record (docs/state.md)
RESOURCE_WIDTH = 5  # t, cpu_total, rss_total, tasks_per_s, managed_total
# Beside each stream record: call id, items erred, final state (STATE_CODES), for task_stream().
EXTRA_WIDTH = 3
STREAM_CAPACITY = 100_000  # as many as a dashboard keeps (the State's ring)
RESOURCES_CAPACITY = 3600  # half an hour of samples at 2 Hz (the State's ring)
MAX_ERRORS = 50  # as the State keeps; `errors_total` counts all
MAX_FUNCTION_KEYS = 1000  # colours and times of this many distinct functions
MAX_FUNCTIONS_SENT = 50  # function rows in a snapshot: those a dashboard shows
MAX_CALL_RECORDS = 10_000  # call id -> colour/end time; the driver keeps 1000 calls itself
MAX_GRAPH_SENT = 5000  # live submitted tasks told to a late joiner: what the graph pane draws
LONGEST_KEPT = 5
FLAG_ERRED = 1
STATE_CODES = ("released", "memory", "erred", "transfer")  # transfer: a fetch (1.4)
COUNT_FIELDS = ("submitted", "processing", "done", "erred", "cancelled", "waiting", "memory")


class Ring:
    """Fixed-width float64 records in a ring; `total` counts every record ever appended.

    Memory grows with use up to `capacity` records (a pool that runs ten tasks does not hold
    the 4.8 MB of a full task-stream ring): record i lives at slot i % capacity, and until the
    ring is full the slots in use are exactly the first `total`.
    """

    def __init__(self, width: int, capacity: int) -> None:
        self.width = width
        self.capacity = capacity
        self._data = array.array("d")
        self.total = 0
        self._floor = 0  # no record below this index was ever held (see `load`)

    def append(self, record: tuple[float, ...] | list[float]) -> None:
        self.extend(record)

    def extend(self, flat: Sequence[float]) -> None:
        """Records one after another in `flat` (`width` floats each): a message's many
        finished tasks in one call, not one per task."""
        width, end = self.width, self.capacity * self.width
        pos, size = 0, len(flat)
        while pos < size:
            i = (self.total % self.capacity) * width
            take = min(size - pos, end - i)  # up to the end of the buffer, then wrap
            if i == len(self._data):  # still growing
                self._data.extend(flat[pos:pos + take] if pos or take < size else flat)
            else:
                self._data[i:i + take] = array.array("d", flat[pos:pos + take])
            pos += take
            self.total += take // width

    def __len__(self) -> int:
        return min(self.total - self._floor, self.capacity)

    def since(self, first: int) -> tuple[int, bytes]:
        """Records with index >= `first` (clamped to what is kept): (first index, raw bytes)."""
        first = max(first, self.total - len(self))
        if first >= self.total:
            return self.total, b""
        start, end = first % self.capacity, self.total % self.capacity
        raw = memoryview(self._data).cast("B")
        w = 8 * self.width
        if start < end:
            return first, bytes(raw[start * w:end * w])
        return first, bytes(raw[start * w:]) + bytes(raw[:end * w])

    def load(self, first: int, raw: bytes) -> None:
        """Replace the contents with records `first`.. given as raw float64 bytes (what
        `since` returns): a late joiner adopting the history it missed."""
        recs = array.array("d")
        recs.frombytes(raw[:len(raw) - len(raw) % (8 * self.width)])
        n = len(recs) // self.width
        if n > self.capacity:
            recs = recs[(n - self.capacity) * self.width:]
            first += n - self.capacity
            n = self.capacity
        self.total, self._floor = first + n, first
        if first == 0:
            self._data = recs  # slots 0..n-1, as if appended
            return
        self._data = array.array("d", bytes(8 * self.width * self.capacity))
        if n:
            # Record i lives at slot i % capacity: at most two contiguous pieces.
            at = first % self.capacity
            head = min(n, self.capacity - at) * self.width
            self._data[at * self.width:at * self.width + head] = recs[:head]
            self._data[:len(recs) - head] = recs[head:]


def _empty_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_FIELDS, 0)


class History:
    """What the driver remembers beyond its own working records. Written by the driver
    thread through `observe` (under `lock`); read by `snapshot` on any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stream = Ring(STREAM_WIDTH, STREAM_CAPACITY)
        self.extra = Ring(EXTRA_WIDTH, STREAM_CAPACITY)
        self.resources = Ring(RESOURCE_WIDTH, RESOURCES_CAPACITY)
        self.errors: deque[dict[str, Any]] = deque(maxlen=MAX_ERRORS)
        self.errors_total = 0
        self.colors: OrderedDict[str, int] = OrderedDict()  # function key -> palette index
        self.names: dict[int, str] = {}  # palette index -> function name
        self._next_color = 0
        self.fn_time: dict[str, float] = {}  # function key -> seconds spent running it
        self.retired: dict[str, dict[str, int]] = {}  # counts of calls the driver forgot
        self._calls: OrderedDict[int, list[Any]] = OrderedDict()  # id -> [key, color, fn, ended]
        self.workers: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self.done = 0  # items finished (done + erred), for the resource ring's rate
        self.last_sample: tuple[float, int] | None = None
        self.closed_at: float | None = None
        self.held: list[list[Any]] = []  # the last sample's bytes held per function (1.4)
        self.profiles = ProfileStore()  # the workers' stack samples per call (1.4)
        self._handlers = {"call.started": self._call_started, "call.ended": self._call_ended,
                          "task.finished": self._task_finished, "task.erred": self._task_erred,
                          "tasks": self._tasks,
                          "task.stream": self._task_stream,
                          "worker.samples": self._samples, "worker.started": self._worker_started,
                          "worker.ready": self._worker_ready, "worker.exited": self._worker_exited,
                          "pool.status": self._pool_status}

    @property
    def observes(self) -> frozenset[str]:
        """The event kinds `observe` handles: the publisher calls it for these only (most
        per-task events, task.queued/processing/released, need nothing here)."""
        return frozenset(self._handlers)

    # ------------------------------------------------------------ driver thread
    def observe(self, kind: str, ts: float, body: dict[str, Any]) -> None:
        handler = self._handlers.get(kind)
        if handler is not None:
            with self.lock:
                handler(ts, body)

    def _call_started(self, ts: float, b: dict[str, Any]) -> None:
        key = f"{b.get('module', '')}.{b.get('fn', '')}"
        color = self.colors.get(key)
        if color is None:
            # Palette indices in first-call order: the order a State watching from the start
            # gives them, so both draw a function in the same colour.
            color = self.colors[key] = self._next_color
            self._next_color += 1
            self.names[color] = str(b.get("fn", ""))
            if len(self.colors) > MAX_FUNCTION_KEYS:
                old, old_color = self.colors.popitem(last=False)
                self.fn_time.pop(old, None)
                self.names.pop(old_color, None)
        self._calls[b["call"]] = [key, color, b.get("fn", ""), None]
        while len(self._calls) > MAX_CALL_RECORDS:
            self._calls.popitem(last=False)

    def _call_ended(self, ts: float, b: dict[str, Any]) -> None:
        rec = self._calls.get(b["call"])
        if rec is not None:
            rec[3] = ts

    def _task_finished(self, ts: float, b: dict[str, Any]) -> None:
        n, n_erred = b["n"], b["n_erred"]
        state = "erred" if n_erred == n else b.get("state", "released")
        self._finished(b["call"], b["worker"], state, n_erred, [n], [b["start"]], [b["end"]],
                       [b.get("longest")])

    def _tasks(self, ts: float, b: dict[str, Any]) -> None:
        """Clean task.finished records of one call and worker, as the driver publishes them
        per message (EventPublisher.emit_tasks)."""
        if b["of"] == "task.finished":  # (the other kinds need nothing here)
            self._finished(b["call"], b["worker"], b["state"], 0, b["n"], b["start"], b["end"],
                           b["longest"])

    def _finished(self, call_id: int, wid: int | None, state: str, n_erred: int,
                  ns: list[int], starts: list[float], ends: list[float], longest: list[Any]
                  ) -> None:
        """Finished tasks of one call and worker: a stream record each; the sums once."""
        rec = self._calls.get(call_id)
        wid = wid if wid is not None else -1
        color, lane, call = float(rec[1] if rec else -1), float(wid), float(call_id)
        flags = float(FLAG_ERRED if n_erred else 0)
        code = float(STATE_CODES.index(state) if state in STATE_CODES else 0)
        stream: list[float] = []
        for start, end, n in zip(starts, ends, ns):
            stream += (start, end, lane, color, float(n), flags)
        self.stream.extend(stream)
        self.extra.extend((call, float(n_erred), code) * len(ns))
        done = sum(ns)
        self.done += done
        if rec is not None:
            self.fn_time[rec[0]] = self.fn_time.get(rec[0], 0.0) + sum(
                max(0.0, e - s) for s, e in zip(starts, ends))
        w = self.workers.get(wid)
        if w is not None:
            w["tasks_done"] += done
            # Only an answer's longest few can enter the kept ones: picked before any
            # entry is made (a message of 256 submitted tasks has 256 `longest`).
            entries = [{"fn": rec[2], "duration": x[0], "arg": x[1]}
                       for x in heapq.nlargest(LONGEST_KEPT, filter(None, longest),
                                               key=itemgetter(0))] if rec is not None else ()
            if entries:
                w["longest"] = sorted([*w["longest"], *entries],
                                      key=lambda e: -e["duration"])[:LONGEST_KEPT]

    def _task_stream(self, ts: float, b: dict[str, Any]) -> None:
        """Bars the driver draws itself: a fetched input's transfer (memflow.py, 1.4)."""
        for start, end, lane, call, count, flags in b["records"]:
            rec = self._calls.get(int(call))
            self.stream.append((start, end, float(lane), float(rec[1] if rec else -1),
                                float(count), float(flags)))
            self.extra.append((float(call), 0.0, float(STATE_CODES.index("transfer"))))

    def _task_erred(self, ts: float, b: dict[str, Any]) -> None:
        self.errors_total += 1
        rec = self._calls.get(b["call"])
        self.errors.append({"id": self.errors_total, "ts": ts, "fn": rec[2] if rec else "",
                            **b})

    def _samples(self, ts: float, b: dict[str, Any]) -> None:
        cpu_total = rss_total = managed_total = 0.0
        for wid, cpu, rss, managed in b["samples"]:
            w = self.workers.get(wid)
            if w is not None:
                w.update(cpu=cpu, rss=rss, managed=managed)
            cpu_total += cpu
            rss_total += rss
            managed_total += managed
        rate = 0.0
        if self.last_sample is not None and ts > self.last_sample[0]:
            rate = (self.done - self.last_sample[1]) / (ts - self.last_sample[0])
        self.last_sample = (ts, self.done)
        self.resources.append((ts, cpu_total, rss_total, rate, managed_total))
        if isinstance(b.get("held"), list):
            self.held = b["held"]

    def _worker_started(self, ts: float, b: dict[str, Any]) -> None:
        self.workers[b["worker"]] = {
            "id": b["worker"], "pid": b["pid"], "status": "starting", "tasks_done": 0,
            "cpu": 0.0, "rss": 0, "managed": 0, "longest": [], "started": ts, "ended": None,
            "exitcode": None, "signal": None, "cause": None, "exit_message": None,
            "insights": {}}
        # The live workers and the most recent exited ones, as the State keeps them.
        gone = [k for k, w in self.workers.items() if w["ended"] is not None]
        live = len(self.workers) - len(gone)
        for k in gone[: max(0, len(gone) - 2 * max(1, live))]:
            del self.workers[k]

    def _worker_ready(self, ts: float, b: dict[str, Any]) -> None:
        w = self.workers.get(b["worker"])
        if w is not None:
            w["status"] = "idle"
            w["insights"].update(startup=b["startup"], init=b["init"])

    def _worker_exited(self, ts: float, b: dict[str, Any]) -> None:
        w = self.workers.get(b["worker"])
        if w is None:
            return
        cause = b.get("cause")
        died = b["reason"] == "died" or cause in ("memory_limit", "timeout")
        w.update(status="died" if died else "exited", ended=ts, exitcode=b["exitcode"],
                 signal=b["signal"], cause=cause, exit_message=b.get("message"), cpu=0.0)
        w["insights"].update(b.get("insights") or {})

    def _pool_status(self, ts: float, b: dict[str, Any]) -> None:
        if b["status"] == "closed":
            self.closed_at = ts

    def retire(self, call: Any) -> None:
        """The driver forgets `call` (it keeps its 1000 newest): keep its counts."""
        with self.lock:
            key = f"{call.info.get('module', '')}.{call.info.get('fn', '')}"
            counts = self.retired.setdefault(key, _empty_counts())
            for field in ("submitted", "done", "erred", "cancelled"):
                counts[field] += getattr(call, field)

    # ------------------------------------------------------------ reading
    def snapshot(self, calls: list[Any], graph: dict[int, Any], rings: bool = True) -> dict[str, Any]:
        """The ``history`` field of a snapshot (docs/protocol.md). `calls` and `graph` are
        the driver's records: read them on the driver thread, or once it has ended."""
        waiting: dict[int, int] = {}
        memory: dict[int, int] = {}
        graph_rows = _graph_rows(graph)
        for task in list(graph.values()):
            if task.state == "waiting":
                waiting[task.call.id] = waiting.get(task.call.id, 0) + 1
            elif task.state == "memory":
                memory[task.call.id] = memory.get(task.call.id, 0) + 1
        with self.lock:
            counts: dict[str, dict[str, int]] = {k: dict(v) for k, v in self.retired.items()}
            for call in calls:
                key = f"{call.info.get('module', '')}.{call.info.get('fn', '')}"
                c = counts.setdefault(key, _empty_counts())
                for field in ("submitted", "processing", "done", "erred", "cancelled"):
                    c[field] += getattr(call, field)
                c["waiting"] += waiting.get(call.id, 0)
                c["memory"] += memory.get(call.id, 0)
            totals = {f: sum(c[f] for c in counts.values())
                      for f in ("submitted", "done", "erred", "cancelled")}
            recent = [k for k in reversed(self.colors) if k in counts][:MAX_FUNCTIONS_SENT]
            functions = [{"key": k, "name": self.names.get(self.colors[k], k),
                          "color": self.colors[k], "time": self.fn_time.get(k, 0.0), **counts[k]}
                         for k in reversed(recent)]
            out: dict[str, Any] = {
                "colors": dict(self.colors), "functions": functions, "totals": totals,
                "call_states": {cid: {"waiting": waiting.get(cid, 0),
                                           "memory": memory.get(cid, 0),
                                           "ended": (self._calls.get(cid) or [None] * 4)[3]}
                                for cid in (c.id for c in calls[-50:])},
                "workers": [dict(w, longest=list(w["longest"]), insights=dict(w["insights"]))
                            for w in self.workers.values()],
                "errors_total": self.errors_total, "errors": list(self.errors),
                "closed_at": self.closed_at, "held": list(self.held),
                "last_sample": list(self.last_sample) if self.last_sample else None,
                "stream_total": self.stream.total, "resources_total": self.resources.total}
            if self.profiles.calls:
                out["profile"] = self.profiles.snapshot()
            if graph_rows:
                out["graph"] = graph_rows
            if rings:
                out["stream_first"], out["stream"] = self.stream.since(0)
                out["resources_first"], out["resources"] = self.resources.since(0)
            return out

    def attach(self, body: dict[str, Any], calls: list[Any], graph: dict[int, Any],
               rings: bool = True) -> None:
        """Add the ``history`` field to a snapshot body, and each call summary's ``states``."""
        h = body["history"] = self.snapshot(calls, graph, rings)
        states = h.pop("call_states")
        for c in body["calls"]:
            c["states"] = states.get(c["call"])

    def records(self) -> list[dict[str, Any]]:
        """The kept task-stream records as dicts (see `task_records`)."""
        with self.lock:
            _, raw = self.stream.since(0)
            _, extra = self.extra.since(0)
            names = dict(self.names)
        return task_records(raw, extra, names)


def _graph_rows(graph: dict[int, Any]) -> list[list[Any]]:
    """The newest live submitted tasks as `[task, call, state, worker, deps, key]` rows,
    oldest first (docs/protocol.md, ``history.graph``): the nodes a late joiner's graph pane
    draws; key is None unless the user gave one. The ended ones are no longer the driver's."""
    rows: list[list[Any]] = []
    for task in reversed(list(graph.values())):  # insertion order is submission order
        if not task.is_submit:
            continue
        key = task.key if task.has_own_key else None
        rows.append([task.id, task.call.id, task.state, task.worker, [d.id for d in task.deps],
                     key])
        if len(rows) >= MAX_GRAPH_SENT:
            break
    rows.reverse()
    return rows


def story(driver: Any, rings: bool = True, timeout: float = 10.0) -> dict[str, Any]:
    """A history snapshot body of `driver` from any thread: made by the driver thread while
    it runs (its records change only there), directly once it has ended."""
    fut: Future | None = Future()
    try:
        driver.command("story", fut, rings)
    except PoolClosedError:
        fut = None  # it has ended
    deadline = time.monotonic() + timeout
    while fut is not None:
        try:
            return fut.result(0.05)  # type: ignore[no-any-return]
        except TimeoutError:
            if driver.closed.is_set():
                break  # it ended before it got to the command
            if time.monotonic() > deadline:
                raise TimeoutError(f"taskscope: pool {driver.pool_name!r} did not answer "
                                   f"within {timeout} s; is its driver thread stuck?") from None
    driver.join(timeout)
    return driver.snapshot_body(history=True, rings=rings)  # type: ignore[no-any-return]


def task_records(raw: bytes, extra: bytes, names: dict[int, str]) -> list[dict[str, Any]]:
    """Stream records (and their call/erred/state columns) as the dicts `Pool.task_stream()`
    returns, oldest first: like Dask's ``get_task_stream().data``, one per chunk of items."""
    recs = array.array("d")
    recs.frombytes(raw)
    ext = array.array("d")
    ext.frombytes(extra)
    out = []
    for i in range(len(recs) // STREAM_WIDTH):
        start, end, worker, color, count, flags = recs[i * STREAM_WIDTH:(i + 1) * STREAM_WIDTH]
        call, erred, state = ext[i * EXTRA_WIDTH:(i + 1) * EXTRA_WIDTH]
        row = {"worker": int(worker), "function": names.get(int(color), ""),
               "call": int(call), "start": start, "end": end, "items": int(count),
               "erred": int(erred), "state": STATE_CODES[int(state)]}
        if int(flags) & 32:  # a transfer: its count is the bytes moved (1.4)
            row.update(items=0, nbytes=int(count))
        out.append(row)
    return out
