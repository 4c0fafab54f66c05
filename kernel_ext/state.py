"""The State: pure reducers from pool events to what every view draws (docs/state.md).

No IO here. The kernel collector and the server extension both feed events into `State` and
read `to_json()` plus the binary rings; the JS panes draw exactly that. The size is bounded by
workers + calls + ring lengths, never by the number of tasks run.
"""
from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

from taskscope.pool.coalesce import expand_bodies
from taskscope.pool.history import Ring
from taskscope.pool.protocol import Event

from . import state_memflow as memflow
from . import state_tasks
from .state_graph import GraphState
from .state_profile import ProfileState

__all__ = ["RESOURCE_FIELDS", "STREAM_FIELDS", "Ring", "State"]

STATE_VERSION = [1, 0]
STREAM_FIELDS = ("start", "end", "worker", "color", "count", "flags")
RESOURCE_FIELDS = ("t", "cpu_total", "rss_total", "tasks_per_s", "managed_total")
FLAG_ERRED, FLAG_CANCELLED = 1, 2
MAX_CALLS = 50  # rows a dashboard shows; older calls still count in their function's row
MAX_FUNCTIONS = 50
MAX_ERRORS = 50  # errors kept with their tracebacks; `errors_total` counts all
MAX_TRACEBACK_CHARS = 8000  # the end of a traceback is the part that matters
RATE_WINDOW_S = 5.0  # progress rate is measured over the last five seconds
LONGEST_KEPT = 5
COUNT_KEYS = ("waiting", "queued", "processing", "memory", "erred", "cancelled", "released")


def _ms(t: float | None) -> float | None:
    """A time or duration in seconds, to the millisecond: the JSON is resent several
    times a second, and 17 significant digits of a monotonic clock are mostly noise."""
    return None if t is None else round(t, 3)


def _sig(x: float | None, digits: int = 4) -> float | None:
    """A measured value (rate, duration, share) to `digits` significant digits."""
    return x if not x else float(f"{x:.{digits}g}")


def _counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0)


def _error_entry(error_id: int, ts: float, b: dict[str, Any], fn: str) -> dict[str, Any]:
    """One row of `errors` from a task.erred body (live, or kept in a snapshot's history)."""
    tb = b["traceback"]
    if len(tb) > MAX_TRACEBACK_CHARS:
        tb = "...\n" + tb[-MAX_TRACEBACK_CHARS:]
    return {"id": error_id, "call": b["call"], "fn": fn, "worker": b["worker"],
            "pid": b["pid"], "exc_type": b["exc_type"], "message": b["message"][:1000],
            "arg": b["arg"], "traceback": tb, "index": b["index"], "ts": _ms(ts),
            # a Dask task's key; for a dependent, the task it blames (1.2)
            **{k: b[k] for k in ("key", "blame", "count", "worker_label") if k in b}}



def _label_by_address(w: dict[str, Any], b: dict[str, Any]) -> None:
    """A Dask worker of `Pool(cluster=...)` is shown by its address ("127.0.0.1:40123"),
    which is how Dask's own dashboard and logs name it, rather than by its number."""
    if b.get("address"):
        w.update(address=b["address"], label=b["address"].split("://", 1)[-1])

class State:
    """Applies events; `to_json()` gives the State of docs/state.md."""

    def __init__(self, stream_capacity: int = 100_000, resources_capacity: int = 3600) -> None:
        self.seq = 0
        self.gaps = 0
        self.now = 0.0
        self.version = 0  # bumped on every change: views push only when it moved
        self.pool: dict[str, Any] = {"id": "", "name": "", "pid": None, "status": "starting",
                                     "n_workers": 0, "started": None, "ended": None,
                                     "memory_limit": None}
        self.totals = {"submitted": 0, "done": 0, "erred": 0, "cancelled": 0}
        self.calls: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self.functions: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.workers: dict[int, dict[str, Any]] = {}
        self.errors: deque[dict[str, Any]] = deque(maxlen=MAX_ERRORS)
        self.errors_total = 0
        self.errors_version = 0
        self.stream = Ring(len(STREAM_FIELDS), stream_capacity)
        self.resources = Ring(len(RESOURCE_FIELDS), resources_capacity)
        self._processing: dict[int, tuple[int, int, int]] = {}  # task -> (call, worker, n)
        self._colors: dict[str, int] = {}
        self._rate: dict[int, deque[tuple[float, int]]] = {}
        self._last_sample: tuple[float, int] | None = None
        self.graph = GraphState(self)  # submitted tasks' nodes and edges (state_graph.py)
        self.profile = ProfileState()  # stack samples per call (1.4, state_profile.py)

    # ---------------------------------------------------------------- applying events
    def apply(self, event: Event) -> None:
        if self.seq and event.seq > self.seq + 1:
            self.gaps += event.seq - self.seq - 1
        self.seq = max(self.seq, event.seq)
        self.now = max(self.now, event.ts)
        handler = getattr(self, "_on_" + event.kind.replace(".", "_"), None)
        if handler is not None:  # unknown kinds (a newer minor version) are ignored
            handler(event.ts, event.body)
            self.version += 1

    def apply_all(self, events: list[Event]) -> None:
        for event in events:
            self.apply(event)

    def _on_pool_started(self, ts: float, b: dict[str, Any]) -> None:
        self.pool.update(id=b["id"], name=b["name"], pid=b["pid"], n_workers=b["n_workers"],
                         started=ts, memory_limit=b.get("memory_limit"), status="running")
        for k in ("scheduler", "note", "mode", "profile"):  # Dask's (1.2); profiling (1.4)
            if b.get(k) is not None:
                self.pool[k] = b[k]

    def _on_profile(self, ts: float, b: dict[str, Any]) -> None:
        self.profile.apply(b)

    def _on_pool_status(self, ts: float, b: dict[str, Any]) -> None:
        self.pool["status"] = b["status"]
        for k in ("scheduler", "note", "mode"):  # a watched Dask cluster's (1.2)
            if b.get(k) is not None:
                self.pool[k] = b[k]
        if b["status"] == "closed":
            self.pool["ended"] = ts
            for w in self.workers.values():
                if w["status"] not in ("exited", "died"):
                    w["status"], w["ended"] = "exited", ts

    def _worker(self, wid: int) -> dict[str, Any]:
        w = self.workers.get(wid)
        if w is None:
            w = self.workers[wid] = {
                "id": wid, "pid": None, "status": "starting", "current": None, "tasks_done": 0,
                "cpu": 0.0, "rss": 0, "managed": 0, "memory_limit": self.pool.get("memory_limit"),
                "insights": {"startup": 0.0, "init": 0.0, "waiting": 0.0, "working": 0.0,
                             "exit": 0.0},
                "utilisation": 0.0, "longest": [], "started": None, "ended": None,
                "exitcode": None, "signal": None, "cause": None, "exit_message": None,
                "inflight": 0}
        return w

    def _on_worker_started(self, ts: float, b: dict[str, Any]) -> None:
        w = self._worker(b["worker"])
        w.update(pid=b["pid"], started=ts, status="starting")
        _label_by_address(w, b)
        # Keep the rows of the live workers and the most recent exited ones only.
        gone = [k for k, v in self.workers.items() if v["status"] in ("exited", "died")]
        for k in gone[: max(0, len(gone) - 2 * max(1, self.pool["n_workers"]))]:
            del self.workers[k]

    def _on_worker_ready(self, ts: float, b: dict[str, Any]) -> None:
        w = self._worker(b["worker"])
        w["status"] = "idle" if not w["inflight"] else "busy"
        w["insights"].update(startup=b["startup"], init=b["init"])

    def _on_worker_exited(self, ts: float, b: dict[str, Any]) -> None:
        w = self._worker(b["worker"])
        # "killed": the pool stopped it on purpose; over its memory limit or a task's timeout
        # is shown as a death, an interrupt as an ordinary exit.
        cause = b.get("cause")
        died = b["reason"] == "died" or cause in ("memory_limit", "timeout")
        w.update(status="died" if died else "exited", ended=ts, exitcode=b["exitcode"],
                 signal=b["signal"], current=None, inflight=0, cpu=0.0, cause=cause,
                 exit_message=b.get("message"))
        w["insights"].update(b.get("insights") or {})
        memflow.forget_worker(self, b["worker"])

    def _function_key(self, b: dict[str, Any]) -> str:
        return f"{b.get('module', '')}.{b.get('fn', '')}"

    def _on_call_started(self, ts: float, b: dict[str, Any]) -> None:
        key = self._function_key(b)
        color = self._colors.setdefault(key, len(self._colors))
        if key not in self.functions:
            self.functions[key] = {"key": key, "name": b["fn"], "color": color,
                                   "counts": _counts(), "submitted": 0, "time": 0.0}
            while len(self.functions) > MAX_FUNCTIONS:
                self.functions.popitem(last=False)
        self.calls[b["call"]] = {
            "id": b["call"], "api": b["api"], "fn": b["fn"], "module": b["module"],
            "file": b["file"], "line": b["line"], "callsite": b["callsite"],
            "total": b["total"], "counts": _counts(), "submitted": 0, "started": ts,
            "ended": None, "rate": 0.0, "eta": None, "color": color, "status": "running",
            "_fkey": key}
        self._rate[b["call"]] = deque([(ts, 0)])
        while len(self.calls) > MAX_CALLS:
            old, _ = self.calls.popitem(last=False)
            self._rate.pop(old, None)
        if self.pool["status"] == "interrupted":
            self.pool["status"] = "running"
        self.graph.call_started(b)

    def _on_call_total(self, ts: float, b: dict[str, Any]) -> None:
        call = self.calls.get(b["call"])
        if call is not None:
            call["total"] = b["total"]

    def _on_call_ended(self, ts: float, b: dict[str, Any]) -> None:
        call = self.calls.get(b["call"])
        if call is not None:
            call.update(status=b["status"], ended=ts, eta=None)

    @staticmethod
    def _settle_submits(call: dict[str, Any], ts: float) -> None:
        """A submit call has no end of its own (the cell may submit more): it reads done (or
        erred) with no ETA while none of its tasks is pending, and running at its next
        submit. Without this it showed "running" and an ETA of 0 s for ever."""
        c = call["counts"]
        if call["api"] != "submit" or call["status"] != "running" \
                or c["waiting"] or c["queued"] or c["processing"]:
            return
        call.update(status="erred" if c["erred"] else "done", ended=ts, eta=None)

    def _bump(self, call_id: int, key: str, n: int) -> dict[str, Any] | None:
        """Add n to one count of a call and of its function (never below zero)."""
        call = self.calls.get(call_id)
        if call is None:
            return None
        call["counts"][key] = max(0, call["counts"][key] + n)
        fn = self.functions.get(call["_fkey"])
        if fn is not None:
            fn["counts"][key] = max(0, fn["counts"][key] + n)
        return call

    def _count_submitted(self, call: dict[str, Any], n: int) -> None:
        call["submitted"] += n
        if call["api"] == "submit":
            call["total"] = (call["total"] or 0) + n
            if call["status"] != "running":  # submitted to again after it had settled
                call.update(status="running", ended=None)
        fn = self.functions.get(call["_fkey"])
        if fn is not None:
            fn["submitted"] += n
        self.totals["submitted"] += n

    def _on_task_waiting(self, ts: float, b: dict[str, Any]) -> None:
        call = self._bump(b["call"], "waiting", b["n"])
        if call is None:
            return
        if b.get("was"):  # waiting again (an input was lost with a worker): not a new task
            self._leave(b["task"], b["call"], b["was"], b["n"])
        else:
            self._count_submitted(call, b["n"])
        self.graph.added(b, "waiting")

    def _on_task_queued(self, ts: float, b: dict[str, Any]) -> None:
        call = self._bump(b["call"], "queued", b["n"])
        if call is None:
            return
        was = b.get("was")
        if was:  # a task moving back or on: out of the state it was in
            self._leave(b["task"], b["call"], was, b["n"])
        elif b.get("lost"):  # its result was lost with a worker: computed again
            self._bump(b["call"], "memory", -b["n"])
        elif not b.get("retry"):
            self._count_submitted(call, b["n"])
        self.graph.added(b, "queued")

    def _leave(self, task: int, call_id: int, was: str, n: int) -> None:
        """Take n items of a task out of the count of the state it was in."""
        if was == "processing":
            known = self._processing.pop(task, None)
            if known is not None:
                w = self.workers.get(known[1])
                if w is not None:
                    w["inflight"] = max(0, w["inflight"] - 1)
        if was in ("waiting", "queued", "processing", "memory", "released"):
            self._bump(call_id, was, -n)

    def _on_task_processing(self, ts: float, b: dict[str, Any]) -> None:
        self._bump(b["call"], "queued", -b["n"])
        self._bump(b["call"], "processing", b["n"])
        self._processing[b["task"]] = (b["call"], b["worker"], b["n"])
        w = self._worker(b["worker"])
        memflow.mark_busy(w, ts)
        w["inflight"] += 1
        w["status"] = "busy"
        call = self.calls.get(b["call"])
        w["current"] = call["fn"] if call else w["current"]
        self.graph.moved(b, "processing")

    def _on_task_finished(self, ts: float, b: dict[str, Any]) -> None:
        n, n_erred, call_id = b["n"], b["n_erred"], b["call"]
        was = b.get("was")
        known = self._processing.pop(b["task"], None)
        call = self.calls.get(call_id)
        if was and was != "processing":
            self._bump(call_id, was, -n)  # it failed before reaching a worker
        elif known is not None or (call is not None and call["counts"]["processing"] >= n):
            self._bump(call_id, "processing", -n)
        else:
            self._bump(call_id, "queued", -n)
        ok_state = "memory" if b["state"] == "memory" else "released"
        self._bump(call_id, ok_state, n - n_erred)
        self._bump(call_id, "erred", n_erred)
        self.totals["done"] += n - n_erred
        self.totals["erred"] += n_erred
        color = call["color"] if call else -1
        if call is not None:
            fn = self.functions.get(call["_fkey"])
            if fn is not None:
                fn["time"] += max(0.0, b["end"] - b["start"])
            self._update_rate(call, ts)
            self._settle_submits(call, ts)
        wid = b["worker"]
        if wid is not None and wid >= 0:
            w = self._worker(wid)
            w["tasks_done"] += n
            w["inflight"] = max(0, w["inflight"] - (1 if known else 0))
            if w["inflight"] == 0 and w["status"] == "busy":
                w["status"], w["current"] = "idle", None
            memflow.mark_finished(w, b["end"])
            insights = b.get("insights") or {}
            if insights:
                w["insights"].update(insights)
            self._keep_longest(w, call, [b.get("longest")])
        flags = FLAG_ERRED if n_erred else 0
        self.graph.finished(b)
        self.stream.append((b["start"], b["end"], float(wid if wid is not None else -1),
                            float(color), float(n), float(flags)))

    @staticmethod
    def _keep_longest(w: dict[str, Any], call: dict[str, Any] | None, longest: list[Any]) -> None:
        """Merge finished tasks' `longest` ([duration, arg] or None each) into the worker's
        LONGEST_KEPT longest."""
        entries = [{"fn": call["fn"], "duration": x[0], "arg": x[1]}
                   for x in longest if x] if call is not None else ()
        if entries:
            w["longest"] = sorted([*w["longest"], *entries],
                                  key=lambda e: -e["duration"])[:LONGEST_KEPT]

    def _update_rate(self, call: dict[str, Any], ts: float) -> None:
        c = call["counts"]
        done = c["released"] + c["memory"] + c["erred"]
        window = self._rate.setdefault(call["id"], deque())
        if not window or ts - window[-1][0] >= 0.25:
            window.append((ts, done))
        while len(window) > 2 and ts - window[0][0] > RATE_WINDOW_S:
            window.popleft()
        t0, d0 = window[0]
        if ts > t0:
            call["rate"] = (done - d0) / (ts - t0)
        total = call["total"]
        if total is not None and call["rate"] > 0:
            call["eta"] = max(0.0, (total - done - c["cancelled"]) / call["rate"])

    def _on_task_erred(self, ts: float, b: dict[str, Any]) -> None:
        self.errors_total += 1
        self.errors_version += 1
        call = self.calls.get(b["call"])
        self.errors.append(_error_entry(self.errors_total, ts, b, call["fn"] if call else ""))
        self.graph.erred(b)

    def _on_task_cancelled(self, ts: float, b: dict[str, Any]) -> None:
        if b["task"]:  # a waiting, queued or (interrupted) processing task; task 0 stands for
            # input never read
            self._leave(b["task"], b["call"], b.get("was") or "queued", b["n"])
        self._bump(b["call"], "cancelled", b["n"])
        self.totals["cancelled"] += b["n"]
        call = self.calls.get(b["call"])
        if call is not None and call["api"] != "submit" and not b["task"] and call["total"] is None:
            call["total"] = call["submitted"] + b["n"]
        if call is not None:
            self._settle_submits(call, ts)
        self.graph.moved(b, "cancelled")

    def _on_task_released(self, ts: float, b: dict[str, Any]) -> None:
        call = self.calls.get(b["call"])
        if call is not None and call["counts"]["memory"] >= b["n"]:
            self._bump(b["call"], "memory", -b["n"])
            self._bump(b["call"], "released", b["n"])
        self.graph.moved(b, "released")

    def _on_tasks(self, ts: float, b: dict[str, Any]) -> None:
        """Per-task events folded into one at the source (protocol 1.2): applied whole when
        plain (state_tasks.py), else each record by its own handler."""
        if state_tasks.apply(self, ts, b):
            return
        for kind, body in expand_bodies(b):
            handler = getattr(self, "_on_" + kind.replace(".", "_"), None)
            if handler is not None:
                handler(ts, body)

    def _on_worker_samples(self, ts: float, b: dict[str, Any]) -> None:
        cpu_total = rss_total = managed_total = 0.0
        for wid, cpu, rss, managed in b["samples"]:
            w = self.workers.get(wid)
            if w is None or w["status"] in ("exited", "died"):
                continue
            w.update(cpu=cpu, rss=rss, managed=managed)
            cpu_total += cpu
            rss_total += rss
            managed_total += managed
        done = self.totals["done"] + self.totals["erred"]
        rate = 0.0
        if self._last_sample is not None and ts > self._last_sample[0]:
            rate = (done - self._last_sample[1]) / (ts - self._last_sample[0])
        self._last_sample = (ts, done)
        self.resources.append((ts, cpu_total, rss_total, rate, managed_total))
        if isinstance(b.get("held"), list):  # bytes held per function (1.4)
            memflow.apply_held(self, [row[0] for row in b["samples"]], b["held"])

    def _on_snapshot(self, ts: float, b: dict[str, Any]) -> None:
        """The driver's own summary: authoritative, so a late joiner starts right."""
        p = b["pool"]
        self.pool.update(id=p["id"], name=p["name"], pid=p["pid"], n_workers=p["n_workers"],
                         status=p["status"], memory_limit=p.get("memory_limit"))
        if p.get("profile") is not None:
            self.pool["profile"] = p["profile"]
        if isinstance((b.get("history") or {}).get("profile"), dict):
            self.profile.adopt(b["history"]["profile"])
        if isinstance(b.get("history"), dict):
            from .state_history import adopt_history

            # Before the calls (their colours) and after the pool (its workers' limit).
            adopt_history(self, b["history"])
        if self.pool["started"] is None:
            self.pool["started"] = p.get("started")
        for s in b["workers"]:
            w = self._worker(s["worker"])
            w.update(pid=s["pid"], tasks_done=s["tasks_done"])
            _label_by_address(w, s)
            w["insights"].update(s.get("insights") or {})
            if s.get("exited"):
                w["status"] = "exited"
            elif w["status"] == "starting" and s.get("ready"):
                w["status"] = "busy" if s.get("inflight") else "idle"
        for s in b["calls"]:
            if s["call"] not in self.calls:
                self._on_call_started(s.get("started", ts), {**s, "fn": s["fn"]})
            call = self.calls[s["call"]]
            c = call["counts"]
            done = s["done"]
            kept = c["memory"] if call["api"] == "submit" else 0
            known = s.get("states")  # in a history snapshot: the driver's own numbers
            if known:
                kept, c["waiting"] = known["memory"], known["waiting"]
                if known.get("ended") is not None and call["ended"] is None:
                    call["ended"] = known["ended"]
            c.update(processing=s["processing"], erred=s["erred"], cancelled=s["cancelled"],
                     memory=min(kept, done), released=done - min(kept, done))
            c["queued"] = max(0, s["submitted"] - s["processing"] - done - s["erred"]
                              - s["cancelled"] - c["waiting"])
            call.update(total=s["total"], submitted=s["submitted"])
            if s["status"] != "running":
                call["status"] = s["status"]
            self._settle_submits(call, call["ended"] or ts)
        graph_rows = (b.get("history") or {}).get("graph")
        if isinstance(graph_rows, list):  # after the calls: their graph groups (1.5)
            self.graph.adopt(graph_rows)
        # Totals too: events from before this subscriber joined never reached it. (The
        # snapshot lists recent calls only, so totals never go down from it.)
        for key, field in (("submitted", "submitted"), ("done", "done"), ("erred", "erred"),
                           ("cancelled", "cancelled")):
            seen = sum(int(s.get(field) or 0) for s in b["calls"])
            self.totals[key] = max(self.totals[key], seen)

    # ------------------------------------------- sources that count at the source (1.2)
    # The Dask adapter (taskscope/pool/dask/) reports each task prefix's absolute counts,
    # workers' facts and finished bars instead of per-task transitions: its scheduler
    # plugin aggregates, so these reducers set rather than add, and a replay is harmless.
    def _on_call_counts(self, ts: float, b: dict[str, Any]) -> None:
        call = self.calls.get(b["call"])
        if call is None:
            self._on_call_started(b.get("started") or ts, {
                "call": b["call"], "api": b.get("api", "dask"), "fn": b.get("fn", "?"),
                "module": b.get("module", ""), "file": b.get("file", ""), "line": 0,
                "callsite": None, "total": None})
            call = self.calls[b["call"]]
        old, new = call["counts"], {k: max(0, int(b["counts"].get(k, 0))) for k in COUNT_KEYS}
        fn = self.functions.get(call["_fkey"])
        submitted = int(b["submitted"])
        d_sub = submitted - call["submitted"]
        for k in COUNT_KEYS:
            if fn is not None:
                fn["counts"][k] = max(0, fn["counts"][k] + new[k] - old[k])
        self.totals["submitted"] += d_sub
        self.totals["done"] += new["memory"] + new["released"] - old["memory"] - old["released"]
        self.totals["erred"] += new["erred"] - old["erred"]
        self.totals["cancelled"] += new["cancelled"] - old["cancelled"]
        if fn is not None:
            fn["submitted"] += d_sub
            if "time" in b:
                fn["time"] += max(0.0, float(b["time"]) - call.get("_time", 0.0))
        call["_time"] = float(b.get("time", 0.0))
        call.update(counts=new, submitted=submitted, total=submitted)
        pending = new["waiting"] + new["queued"] + new["processing"]
        status = "running" if pending else "erred" if new["erred"] else "done"
        if status != "running" and call["status"] == "running":
            call["ended"] = ts
        elif status == "running":
            call["ended"] = None
        call["status"] = status
        self._update_rate(call, ts)
        if status != "running":
            call["eta"] = None

    WORKER_INFO_FIELDS = ("label", "address", "nthreads", "status", "memory_limit", "rss",
                          "managed", "unmanaged", "spilled", "cpu", "current", "tasks_done",
                          "lanes", "resources", "pid", "processing")

    def _on_worker_info(self, ts: float, b: dict[str, Any]) -> None:
        for row in b["workers"]:
            w = self._worker(row["worker"])
            gone = w["status"] in ("exited", "died")
            for k in self.WORKER_INFO_FIELDS:
                if k in row and not (gone and k in ("status", "cpu", "current")):
                    w[k] = row[k]
            if row.get("started") is not None and w["started"] is None:
                w["started"] = row["started"]
            if row.get("insights"):
                w["insights"].update(row["insights"])
        self.pool["n_workers"] = sum(1 for w in self.workers.values()
                                     if w["status"] not in ("exited", "died"))
        if isinstance(b.get("held"), list):  # a watched Dask cluster's bytes per prefix (1.4)
            memflow.apply_held(self, [memflow.CLUSTER], b["held"])

    def _on_task_stream(self, ts: float, b: dict[str, Any]) -> None:
        for start, end, lane, call_id, count, flags in b["records"]:
            call = self.calls.get(call_id)
            self.stream.append((start, end, float(lane), float(call["color"] if call else -1),
                                float(count), float(flags)))

    # ---------------------------------------------------------------- reading
    def _utilisation(self, w: dict[str, Any]) -> float:
        busy, idle = w["insights"]["working"], w["insights"]["waiting"]
        return busy / (busy + idle) if busy + idle > 0 else 0.0

    @staticmethod
    def _call_json(call: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in call.items() if not k.startswith("_")}
        counts = dict(call["counts"])
        if call["total"] is not None:
            # Items not yet made into tasks (a map's unread input) wait too; submitted
            # tasks that wait for their inputs are counted already.
            accounted = sum(counts.values())
            counts["waiting"] += max(0, call["total"] - accounted)
        out.update(counts=counts, started=_ms(call["started"]), ended=_ms(call["ended"]),
                   rate=_sig(call["rate"]), eta=_ms(call["eta"]))
        return out

    def call_view_json(self, call_id: int, keys: tuple[str, ...],
                       pool_keys: tuple[str, ...]) -> dict[str, Any]:
        """What a one-call progress bar shows: `to_json()` cut to `keys`, the pool's
        `pool_keys` and that call's row only, without serialising the rest of the State."""
        full = {"v": STATE_VERSION, "seq": self.seq, "gaps": self.gaps, "now": _ms(self.now)}
        state = {k: full[k] for k in keys if k in full}
        call = self.calls.get(call_id)
        state["pool"] = {k: self.pool.get(k) for k in pool_keys}
        state["calls"] = [self._call_json(call)] if call is not None else []
        return state

    def _worker_json(self, w: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in w.items() if k != "inflight"}
        out.update(insights={k: _sig(v) for k, v in w["insights"].items()},
                   utilisation=_sig(self._utilisation(w)), cpu=_sig(w["cpu"], 3),
                   longest=[dict(e, duration=_sig(e["duration"])) for e in w["longest"]],
                   started=_ms(w["started"]), ended=_ms(w["ended"]))
        return out

    def to_json(self, include_errors: bool = True) -> dict[str, Any]:
        pool = dict(self.pool, started=_ms(self.pool["started"]), ended=_ms(self.pool["ended"]))
        state: dict[str, Any] = {
            "v": STATE_VERSION, "seq": self.seq, "gaps": self.gaps, "now": _ms(self.now),
            "pool": pool, "totals": dict(self.totals),
            "calls": [self._call_json(call) for call in self.calls.values()],
            "functions": [dict(f, counts=dict(f["counts"]), time=_sig(f["time"]))
                          for f in self.functions.values()],
            "workers": [self._worker_json(w) for w in self.workers.values()],
            "errors_total": self.errors_total,
            "stream_total": self.stream.total, "resources_total": self.resources.total,
            "memory_by_function": memflow.memory_by_function(self),
        }
        if self.profile.calls:
            state["profile"] = self.profile.to_json()
        if include_errors:  # the whole State (a snapshot, a report): the graph too
            state["errors"] = list(self.errors)
            graph = self.graph.to_json()
            if graph is not None:
                state["graph"] = graph
        return state
