"""The scheduler side of watching a Dask cluster: a SchedulerPlugin that aggregates.

::

    scheduler event loop                                  the watching Client (kernel)
    transition() --O(1)--> per-key display state, per-prefix counts,
                           coalesced task-stream bars, error records
    every FLUSH_INTERVAL_S: one msgpack-able batch --log_event(topic)--> subscribe_topic handler
                            (dirty prefixes only; workers every WORKERS_INTERVAL_S)

This module is sent to the scheduler *by value* (cloudpickle), so a scheduler without
taskscope installed runs it: it must import nothing but the standard library and
``distributed``. Every hook runs on the scheduler's single event-loop thread, which is the
cluster's bottleneck, so a transition costs a few dict operations and nothing walks the graph;
what is sent is bounded per batch (MAX_STREAM, MAX_ERRORS) whatever the cluster's size.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

PLUGIN_VERSION = 1  # the batch format; the kernel side refuses another major
FLUSH_INTERVAL_S = 0.25  # four batches a second: live enough, and one message each
WORKERS_INTERVAL_S = 1.0  # worker memory/CPU come from heartbeats (0.5-2 s) anyway
WORKER_ROWS_PER_S = 200  # ...and less often past 200 workers (as Dask's heartbeats slow down)
FULL_INTERVAL_S = 5.0  # every prefix and worker again, so a lost batch heals
MAX_STREAM = 2000  # task-stream bars per batch (8,000/s, more than a view can show): more
# are counted (`stream_dropped`), not sent; progress counts stay exact regardless
TIME_UNIT_S = 1e-4  # bars' times travel as integers of 0.1 ms from the batch's `t0`
MAX_ERRORS = 5  # error records per batch (tracebacks are heavy: <= 20 a second); all are counted
MAX_TEXT = 4000  # characters of exception and traceback text kept per error
RESTART_GRACE_S = 60.0  # workers leaving this soon after a restart are being restarted
MERGE_GAP_S = 0.002  # back-to-back bars of one prefix on one thread closer than this merge

# The display state of a task, in taskscope's count order (docs/state.md):
WAITING, QUEUED, PROCESSING, MEMORY, ERRED, CANCELLED, RELEASED = range(7)
_STATE = {"waiting": WAITING, "no-worker": WAITING, "queued": QUEUED,
          "processing": PROCESSING, "memory": MEMORY, "erred": ERRED}
_PENDING = (WAITING, QUEUED, PROCESSING)


def encode_stream(bars: list[list[Any]]) -> dict[str, Any]:
    """Bars ``[prefix, worker, thread, action, start, stop, count, erred]`` in a compact form:
    prefix, worker and action as indices into `names`, times as integer TIME_UNIT_S from
    `t0` (about 15 bytes a bar instead of 60 in msgpack)."""
    names: dict[str, int] = {}
    t0 = min((b[4] for b in bars), default=0.0)
    out = []
    for prefix, worker, thread, action, start, stop, count, erred in bars:
        out.append([names.setdefault(prefix, len(names)), names.setdefault(worker, len(names)),
                    thread, names.setdefault(action, len(names)),
                    round((start - t0) / TIME_UNIT_S), round((stop - t0) / TIME_UNIT_S),
                    count, 1 if erred else 0])
    return {"names": list(names), "t0": t0, "unit": TIME_UNIT_S, "bars": out}


def _clip(text: Any) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT // 4] + "\n...\n" + text[-MAX_TEXT // 2:]


class TaskscopePlugin(SchedulerPlugin):
    """Counts every task by prefix and state, records finished tasks' start/stop times per
    worker thread and errors, and sends it all in batches to one watching client."""

    idempotent = False

    def __init__(self, name: str, topic: str, client_id: str) -> None:
        self.name = name
        self.topic = topic
        self.client_id = client_id
        self._reset()
        self._task: asyncio.Task[None] | None = None
        self.scheduler: Any = None

    def _reset(self) -> None:
        self._keys: dict[Any, list[Any]] = {}  # key -> [prefix, display state]
        # prefix -> [waiting, queued, processing, memory, erred, cancelled, released,
        #             submitted, compute seconds]
        self._prefixes: dict[str, list[float]] = {}
        self._dirty: set[str] = set()
        self._stream: list[list[Any]] = []
        self._last_bar: dict[tuple[str, int], list[Any]] = {}  # (worker, thread) -> bar
        self._stream_dropped = 0
        self._errors: list[dict[str, Any]] = []
        self._blamed: dict[tuple[str, Any], dict[str, Any]] = {}  # dependents, grouped
        self._errors_dropped = 0
        self._removed: list[list[Any]] = []
        self._added: set[str] = set()
        self._seq = 0
        self._workers_at = 0.0
        self._full_at = 0.0
        self._restarted = False
        self._restart_at = 0.0

    # ------------------------------------------------------------------ life cycle
    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        # Tasks that exist already are counted as they are now (a watch can start late).
        for key, ts in scheduler.tasks.items():
            self._enter(key, ts.prefix.name, _STATE.get(ts.state, RELEASED))
        self._task = asyncio.get_running_loop().create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        try:
            while self.scheduler.plugins.get(self.name) is self:
                await asyncio.sleep(FLUSH_INTERVAL_S)
                self.flush()
        except asyncio.CancelledError:
            pass
        finally:
            self._task = None

    def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        with contextlib.suppress(Exception):
            if self.scheduler.plugins.get(self.name) is self:
                self.scheduler.remove_plugin(name=self.name)

    async def close(self) -> None:
        self._stop()

    def remove_client(self, scheduler: Any, client: str) -> None:
        if client == self.client_id:  # the watcher left: nobody reads the batches any more
            self._stop()

    def restart(self, scheduler: Any) -> None:
        # Dask forgot every task (the ones clients held went through transition() already):
        # what was still pending is cancelled, results are gone.
        for prefix, state in self._keys.values():
            self._move(prefix, state, CANCELLED if state in _PENDING else
                       RELEASED if state == MEMORY else state)
        self._keys.clear()
        self._last_bar.clear()
        self._restarted = True
        self._restart_at = time.time()

    # ------------------------------------------------------------------ hooks (hot path)
    def _enter(self, key: Any, prefix: str, state: int) -> None:
        counts = self._prefixes.get(prefix)
        if counts is None:
            counts = self._prefixes[prefix] = [0, 0, 0, 0, 0, 0, 0, 0, 0.0]
        counts[state] += 1
        counts[7] += 1
        self._keys[key] = [prefix, state]
        self._dirty.add(prefix)

    def _move(self, prefix: str, old: int, new: int) -> None:
        if old != new:
            counts = self._prefixes[prefix]
            counts[old] -= 1
            counts[new] += 1
            self._dirty.add(prefix)

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if start == finish:
            return  # e.g. waiting->waiting: measured ~1 per queued task, nothing changed
        entry = self._keys.get(key)
        if entry is None:
            ts = self.scheduler.tasks.get(key)
            if ts is None:
                return
            self._enter(key, ts.prefix.name, WAITING)
            entry = self._keys[key]
        prefix, old = entry
        if finish == "released":
            # Done and let go, or (from a pending state) not run yet: pending again.
            new = RELEASED if old in (MEMORY, RELEASED) else ERRED if old == ERRED else WAITING
        elif finish == "forgotten":
            del self._keys[key]
            new = CANCELLED if old in _PENDING else RELEASED if old == MEMORY else old
        else:
            new = _STATE.get(finish, old)
        entry[1] = new
        self._move(prefix, old, new)
        if start == "processing" and finish in ("memory", "erred") and "startstops" in kwargs:
            self._bars(prefix, kwargs, finish == "erred")
        if finish == "erred":
            self._error(key, prefix, kwargs)

    def _bars(self, prefix: str, kw: dict[str, Any], erred: bool) -> None:
        worker = kw.get("worker") or ""
        thread = kw.get("thread") or 0
        counts = self._prefixes[prefix]
        for ss in kw["startstops"]:
            action, start, stop = ss.get("action", "compute"), ss["start"], ss["stop"]
            if action == "compute":
                counts[8] += max(0.0, stop - start)
            last = self._last_bar.get((worker, thread))
            if (last is not None and not erred and not last[7] and last[0] == prefix
                    and last[3] == action and abs(start - last[5]) < MERGE_GAP_S):
                last[5] = stop  # aggregation at the source: one bar, `count` tasks
                last[6] += 1
                continue
            if len(self._stream) >= MAX_STREAM:
                self._stream_dropped += 1
                continue
            bar = [prefix, worker, thread, action, start, stop, 1, erred]
            self._stream.append(bar)
            if action == "compute":
                self._last_bar[(worker, thread)] = bar

    def _error(self, key: Any, prefix: str, kw: dict[str, Any]) -> None:
        if "exception_text" in kw:  # the task that raised
            if len(self._errors) >= MAX_ERRORS:
                self._errors_dropped += 1
                return
            self._errors.append({
                "key": str(key), "prefix": prefix, "worker": kw.get("worker") or "",
                "exception": _clip(kw.get("exception_text")),
                "traceback": _clip(kw.get("traceback_text")), "time": time.time()})
            return
        # A dependent: Dask fails it without text of its own; name the task it blames.
        ts = self.scheduler.tasks.get(key)
        blame = getattr(ts, "exception_blame", None)
        bkey = getattr(blame, "key", None)
        group = self._blamed.get((prefix, bkey))
        if group is not None:
            group["n"] += 1
            return
        if len(self._blamed) >= MAX_ERRORS:
            self._errors_dropped += 1
            return
        self._blamed[(prefix, bkey)] = {
            "key": str(key), "prefix": prefix, "blame": None if bkey is None else str(bkey),
            "worker": "", "n": 1, "time": time.time(),
            # The dependent's own text is set after this hook runs: take the blamed task's.
            "exception": _clip(getattr(blame, "exception_text", "") or ""),
            "traceback": _clip(getattr(blame, "traceback_text", "") or "")}

    def add_worker(self, scheduler: Any, worker: str) -> None:
        self._added.add(worker)

    def remove_worker(self, scheduler: Any, worker: str, **kwargs: Any) -> None:
        ws = scheduler.workers.get(worker)
        # A worker Dask closed on purpose (retire, restart, close) vs one that vanished.
        expected = bool(kwargs.get("expected")) or getattr(getattr(ws, "status", None),
                                                           "name", "") == "closing_gracefully"
        # Workers a restart replaces are not deaths (their nannies restart them).
        restarting = time.time() - self._restart_at < RESTART_GRACE_S
        self._removed.append([worker, "shutdown" if expected or restarting else "died",
                              time.time()])
        self._added.discard(worker)
        for key in list(self._last_bar):
            if key[0] == worker:
                del self._last_bar[key]

    # ------------------------------------------------------------------ sending
    def _worker_rows(self, addresses: Any) -> list[list[Any]]:
        rows = []
        for addr in addresses:
            ws = self.scheduler.workers.get(addr)
            if ws is None:
                continue
            try:
                mem = ws.memory
                managed, unmanaged, spilled, rss = mem.managed, mem.unmanaged, mem.spilled, mem.process
            except Exception:  # no heartbeat yet
                managed, unmanaged, spilled, rss = ws.nbytes, 0, 0, 0
            current = None
            for ts in ws.processing:  # one task it is running (or about to)
                current = ts.prefix.name
                break
            rows.append([addr, str(ws.name), ws.nthreads, ws.memory_limit or 0, ws.status.name,
                         rss, managed, unmanaged, spilled, float(ws.metrics.get("cpu", 0.0)),
                         len(ws.processing), current, dict(ws.resources or {}), ws.pid or 0])
        return rows

    def _held(self) -> dict[str, list[int]]:
        """Bytes in memory per task prefix (Dask's own running total, one copy of each
        result) and how many results: memory by function (taskscope protocol 1.4)."""
        out = {}
        for name, tp in self.scheduler.task_prefixes.items():
            nbytes = int(getattr(tp, "nbytes_total", 0) or 0)
            counts = self._prefixes.get(name)
            if nbytes > 0 and counts is not None:
                out[name] = [nbytes, int(counts[MEMORY])]
        return out

    def flush(self, force: bool = False) -> dict[str, Any] | None:
        """Send what changed since the last batch (everything every FULL_INTERVAL_S);
        returns the batch (None when there was nothing to say)."""
        now = time.time()
        full = force or now - self._full_at >= FULL_INTERVAL_S
        every = max(WORKERS_INTERVAL_S, len(self.scheduler.workers) / WORKER_ROWS_PER_S)
        workers_due = full or self._added or now - self._workers_at >= every
        if not (full or self._dirty or self._stream or self._errors or self._blamed
                or self._removed or workers_due or self._stream_dropped):
            return None
        names = list(self._prefixes) if full else list(self._dirty)
        batch: dict[str, Any] = {
            "v": PLUGIN_VERSION, "seq": self._seq, "t": now, "full": full,
            "prefixes": {p: self._prefixes[p] for p in names if p in self._prefixes},
            "stream": encode_stream(self._stream), "stream_dropped": self._stream_dropped,
            "errors": self._errors + list(self._blamed.values()),
            "errors_dropped": self._errors_dropped, "removed": self._removed,
            "restarted": self._restarted,
        }
        if workers_due:
            batch["workers"] = self._worker_rows(list(self.scheduler.workers))
            batch["held"] = self._held()
            self._workers_at = now
            self._added = set()
        if full:
            self._full_at = now
        self._seq += 1
        self._dirty = set()
        self._stream, self._errors, self._blamed, self._removed = [], [], {}, []
        self._last_bar = {}  # sent bars are not extended any more
        self._stream_dropped = self._errors_dropped = 0
        self._restarted = False
        # Copies: the counts lists go on changing after this batch was queued to the comm.
        batch["prefixes"] = {p: list(c) for p, c in batch["prefixes"].items()}
        self.scheduler.log_event(self.topic, batch)
        # The broker keeps the last 1,000 events of a topic for `get_events`; nobody reads
        # this topic's history, and 1,000 batches could be megabytes of scheduler memory.
        broker = getattr(self.scheduler, "_broker", None)
        with contextlib.suppress(Exception):
            broker.truncate(self.topic)
        return batch
