"""The fallback source of a Dask watch: polling, when the scheduler refuses plugins.

Each poll asks, over the Client's own connection, for the task stream's new records
(``get_task_stream(start_index=...)``: the scheduler's built-in TaskStreamPlugin, installed
by the first call), what each worker is processing, and the workers' heartbeat metrics, and
builds a batch in the plugin's format (plugin.py). What this cannot see: waiting and queued
tasks (the counts start when a task runs), dependents that erred without running, and
exact managed/unmanaged/spilled memory (taken from the heartbeats).
"""
from __future__ import annotations

import time
from typing import Any

from .plugin import PLUGIN_VERSION, encode_stream

__all__ = ["POLL_INTERVAL_S", "Poller"]

POLL_INTERVAL_S = 1.0  # three small requests a second to the scheduler at most


def _prefix(key: Any) -> str:
    from dask.utils import key_split

    return str(key_split(key))


class Poller:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.index: int | None = None
        self.at = 0.0
        self.seq = 0
        # prefix -> [waiting, queued, processing, memory, erred, cancelled, released,
        #             submitted, compute seconds], as the plugin sends them
        self.prefixes: dict[str, list[float]] = {}
        self.failed = 0

    def due(self) -> bool:
        return time.monotonic() - self.at >= POLL_INTERVAL_S

    def _counts(self, prefix: str) -> list[float]:
        c = self.prefixes.get(prefix)
        if c is None:
            c = self.prefixes[prefix] = [0, 0, 0, 0, 0, 0, 0, 0, 0.0]
        return c

    def poll(self) -> dict[str, Any] | None:
        self.at = time.monotonic()
        sched = self.client.scheduler
        try:
            if self.index is None:  # installs the task stream plugin; older records are gone
                self.index = int(self.client.sync(sched.get_task_stream_index))
            records = self.client.sync(sched.get_task_stream, start_index=self.index)
            processing = self.client.processing()
            info = self.client.scheduler_info(n_workers=-1)
        except Exception:
            self.failed += 1
            return None
        self.index += len(records)
        stream, errors = [], []
        for r in records:
            prefix = _prefix(r["key"])
            c = self._counts(prefix)
            erred = r.get("status") == "error"
            c[4 if erred else 6] += 1  # finished: erred, or done (kept or not: unknown here)
            c[7] += 1
            for ss in r.get("startstops") or ():
                if ss.get("action") == "compute":
                    c[8] += max(0.0, ss["stop"] - ss["start"])
                stream.append([prefix, r.get("worker", ""), r.get("thread") or 0,
                               ss.get("action", "compute"), ss["start"], ss["stop"], 1, erred])
            if erred:
                errors.append({"key": str(r["key"]), "prefix": prefix,
                               "worker": r.get("worker", ""), "time": time.time(),
                               "exception": r.get("exception_text", ""),
                               "traceback": r.get("traceback_text", "")})
        running: dict[str, int] = {}
        for keys in processing.values():
            for key in keys:
                p = _prefix(key)
                running[p] = running.get(p, 0) + 1
        for p in set(running) | set(self.prefixes):
            c = self._counts(p)
            c[7] += running.get(p, 0) - c[2]  # submitted = finished + running, as seen here
            c[2] = running.get(p, 0)
        workers = []
        for addr, w in (info.get("workers") or {}).items():
            m = w.get("metrics") or {}
            rss = int(m.get("memory") or 0)
            managed = int(m.get("managed_bytes") or 0)
            spilled = int((m.get("spilled_bytes") or {}).get("disk") or 0)
            workers.append([addr, str(w.get("name", addr)), int(w.get("nthreads") or 1),
                            int(w.get("memory_limit") or 0), str(w.get("status", "running")),
                            rss, managed, max(0, rss - managed), spilled,
                            float(m.get("cpu") or 0.0), len(processing.get(addr) or ()),
                            next((_prefix(k) for k in processing.get(addr) or ()), None),
                            dict(w.get("resources") or {}), 0])
        self.seq += 1
        return {"v": PLUGIN_VERSION, "seq": self.seq, "t": time.time(), "full": True,
                "prefixes": {p: list(c) for p, c in self.prefixes.items()},
                "stream": encode_stream(stream), "errors": errors, "workers": workers,
                "removed": []}
