"""Watching a Dask cluster: its picture, as a taskscope event stream, over the Client's own link.

::

    scheduler: TaskscopePlugin --log_event(topic), 4 batches/s--+   (sent by value: the
                                                                |    scheduler needs no taskscope)
    kernel: Client IO loop --subscribe_topic handler: enqueue --+
            watch thread: Translator -> EventPublisher --XPUB (ipc, signed)--> Collector -> State
                                                                          \\--> server extension

The watch looks like a pool to everything downstream (``id``, ``name``, ``status``,
``connection_info()``, a registry entry with origin "dask"), so the collector, the State, the
widgets, the pop-out page and the sidebar are the pool's own code. No port is opened to
the cluster: the batches ride the Client's existing (and, if configured, TLS) connection.
When the scheduler refuses plugins, the watch polls ``get_task_stream`` and
``scheduler_info`` instead (poll.py) and says what that view lacks.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
import warnings
import weakref
from typing import Any

from .. import _transport, registry
from ..errors import TaskscopeError
from ..events import EventPublisher
from ..history import History
from .translate import Translator

__all__ = ["MIN_DISTRIBUTED", "DaskWatch", "DaskWatchError", "live_watches", "watch"]

log = logging.getLogger("taskscope")

MIN_DISTRIBUTED = (2026, 6)  # register_plugin without idempotent=, get_task_stream(start_index)
IDLE_WAIT_S = 0.25  # the thread wakes this often with nothing queued (client status, polling)
CONNECT_TIMEOUT_S = 5.0


class DaskWatchError(TaskscopeError, ValueError):
    """A Dask cluster cannot be watched: the message names the culprit and the fix."""


def _check_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise DaskWatchError("taskscope: watching a Dask cluster needs `distributed`; install "
                             "it with `pip install 'taskscope[dask]'`") from None
    version = getattr(distributed, "__version__", "0")
    parts = []
    for p in version.split(".")[:2]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits or 0))
    if tuple(parts) < MIN_DISTRIBUTED:
        need = ".".join(map(str, MIN_DISTRIBUTED))
        raise DaskWatchError(f"taskscope: distributed {version} is too old to watch (taskscope "
                             f"needs distributed>={need}: Client.register_plugin and "
                             f"get_task_stream(start_index=...)); upgrade with "
                             f"`pip install -U 'taskscope[dask]'`")
    return distributed


def _connect(target: Any) -> tuple[Any, bool]:
    """A running Client for `target` (a Client, a cluster object or a scheduler address) and
    whether this watch made it (then it closes it too)."""
    distributed = _check_distributed()
    if isinstance(target, distributed.Client):
        status = getattr(target, "status", "?")
        if status != "running":
            raise DaskWatchError(
                f"taskscope: the Dask Client is not connected (its status is {status!r}); "
                "watch a running one: `client = Client(cluster)` (or "
                "`await client` for an asynchronous Client), then `taskscope.dashboard(client)`")
        if getattr(target, "asynchronous", False):
            raise DaskWatchError("taskscope: an asynchronous Client cannot be watched from the "
                                 "notebook's thread; pass a synchronous `Client(address)` to "
                                 "the same scheduler")
        return target, False
    address = getattr(target, "scheduler_address", None) or target
    if not isinstance(address, str):
        raise DaskWatchError(
            f"taskscope: cannot watch a {type(target).__name__}; pass a distributed.Client, a "
            "cluster (e.g. LocalCluster) or a scheduler address like 'tcp://127.0.0.1:8786'")
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise DaskWatchError(
            f"taskscope: no Dask scheduler answered at {address!r} within "
            f"{CONNECT_TIMEOUT_S:g} s ({type(exc).__name__}: {exc}); check the address, or "
            "start one (`dask scheduler`, or `LocalCluster()`) and pass its address") from None
    return client, True


class DaskWatch:
    """A Dask cluster, seen through one Client, published as a taskscope event stream.

    Made by `watch()`; one per Client. ``close()`` stops it (the cluster keeps running).
    """

    measure = False  # count the bytes of the batches received (benchmarks/dask_watch.py)

    def __init__(self, target: Any, *, name: str | None = None, plugin: bool = True) -> None:
        self.client, self._own_client = _connect(target)
        from . import plugin as plugin_module  # imports distributed: only now

        self._plugin_module = plugin_module
        self.scheduler_address: str = self.client.scheduler.address
        self.id = uuid.uuid4().hex
        self.name = name or f"dask {self.scheduler_address.split('://', 1)[-1]}"
        self.status = "running"
        self.mode = "plugin"
        self.note: str | None = None
        self.started_at = time.monotonic()
        self._key = os.urandom(32)
        self._sock, self._endpoint, self._dir = _transport.bind_events()
        # What a late subscriber is told beyond the replayed counts: the task-stream and
        # resource rings, errors, exited workers (the pool's own History, pool/history.py).
        self._history = History()
        self._pub = EventPublisher(self._sock, self._key, self._history.observe,
                                   self._history.observes)
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._tr = Translator()
        self._stop = threading.Event()
        self._closed = threading.Event()
        self._poller: Any = None
        self.batches = 0  # batches received from the scheduler (tests, benchmarks)
        self.bytes_in = 0
        self._plugin_name = f"taskscope-{self.id[:12]}"
        self._topic = self._plugin_name
        self._pub.emit("pool.started", id=self.id, name=self.name, pid=os.getpid(),
                       n_workers=0, start_method="dask", memory_limit=None,
                       scheduler=self.scheduler_address)
        self._start_source(plugin)
        self._thread = threading.Thread(target=self._run, name=f"taskscope-dask-{self.id[:8]}",
                                        daemon=True)
        self._thread.start()
        registry.register(self, origin="dask", scheduler=self.scheduler_address)
        _live.add(self)
        self._finalizer = weakref.finalize(self, _cleanup, self._sock, self._dir)

    # ------------------------------------------------------------------ what pools also have
    @property
    def n_workers(self) -> int:
        return len(self._tr.workers) - len(self._tr.gone)

    def connection_info(self) -> dict[str, Any]:
        """What a subscriber needs: the event endpoint and key (a secret: never log it)."""
        return {"id": self.id, "name": self.name, "events": self._endpoint, "control": None,
                "key": self._key.hex()}

    def __repr__(self) -> str:
        return f"<taskscope DaskWatch {self.name!r} {self.status} ({self.mode})>"

    # ------------------------------------------------------------------ the source
    def _start_source(self, use_plugin: bool) -> None:
        refused: BaseException | None = None
        if use_plugin:
            try:
                self.client.subscribe_topic(self._topic, self._on_batch)
                self._register_plugin()
                return
            except Exception as exc:  # blocked handler, scheduler without cloudpickle, ...
                refused = exc
                try:
                    self.client.unsubscribe_topic(self._topic)
                except Exception:
                    pass
        from .poll import Poller

        self.mode = "polling"
        why = (f"the scheduler refused taskscope's plugin ({type(refused).__name__}: "
               f"{str(refused)[:300]})" if refused is not None else "plugins were turned off")
        self.note = (f"{why}; showing what the task stream and worker heartbeats give: "
                     "finished, erred and running tasks, no waiting or queued counts, no "
                     "blamed dependents. For the whole view, let the scheduler accept "
                     "plugins (remove 'register_scheduler_plugin' from "
                     "distributed.scheduler.blocked-handlers).")
        if refused is not None:
            warnings.warn(f"taskscope: {self.note}", RuntimeWarning, stacklevel=4)
        self._pub.emit("pool.status", status="running", note=self.note, mode=self.mode)
        self._poller = Poller(self.client)

    def _register_plugin(self) -> None:
        import cloudpickle

        module = self._plugin_module
        plugin = module.TaskscopePlugin(self._plugin_name, self._topic, self.client.id)
        # By value: the scheduler may not have taskscope (or another version of it).
        cloudpickle.register_pickle_by_value(module)
        try:
            self.client.register_plugin(plugin, name=self._plugin_name)
        finally:
            cloudpickle.unregister_pickle_by_value(module)

    def _on_batch(self, event: tuple[float, Any]) -> None:
        """subscribe_topic handler: runs on the Client's IO-loop thread, so it only queues."""
        self._queue.put(event[1])

    # ------------------------------------------------------------------ the watch thread
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                wait = IDLE_WAIT_S
                if self._pub.pending:
                    wait = max(0.0, min(wait, self._pub.next_flush - time.monotonic()))
                try:
                    batch = self._queue.get(timeout=wait)
                except queue.Empty:
                    batch = None
                while batch is not None:
                    self._apply(batch)
                    try:
                        batch = self._queue.get_nowait()
                    except queue.Empty:
                        batch = None
                if self._poller is not None and self._poller.due():
                    polled = self._poller.poll()
                    if polled is not None:
                        self._apply(polled)
                if self._pub.poll_subscriptions():
                    self._snapshot()
                if self._pub.due(time.monotonic()):
                    self._pub.flush()
                if self.client.status not in ("running", "connecting"):
                    break
        except Exception:  # never raise into the user's kernel
            log.exception("taskscope: the Dask watch stopped")
        finally:
            self._finish()

    def _apply(self, batch: dict[str, Any]) -> None:
        if not isinstance(batch, dict) or batch.get("v") != self._plugin_module.PLUGIN_VERSION:
            log.warning("taskscope: ignored a Dask batch of another format (%r)",
                        batch.get("v") if isinstance(batch, dict) else type(batch).__name__)
            return
        self.batches += 1
        if self.measure:
            import msgpack

            self.bytes_in += len(msgpack.packb(batch))
        for kind, ts, body in self._tr.batch(batch):
            self._pub.emit(kind, ts, **body)

    def _snapshot(self) -> None:
        """A subscriber joined: the summary it starts from, then everything known."""
        now = time.monotonic()
        body: dict[str, Any] = {"pool": {
            "id": self.id, "name": self.name, "pid": os.getpid(), "n_workers": self.n_workers,
            "status": self.status, "memory_limit": None, "started": self.started_at},
            "workers": [], "calls": []}
        self._history.attach(body, [], {})  # no calls or graph of its own: Dask has them
        self._pub.emit("snapshot", **body)
        # pool.started went out before anyone listened: its Dask fields come again here.
        extra = {"note": self.note} if self.note else {}
        self._pub.emit("pool.status", status=self.status, mode=self.mode,
                       scheduler=self.scheduler_address, **extra)
        for kind, ts, body in self._tr.replay(now):
            self._pub.emit(kind, ts, **body)
        self._pub.flush()

    def _finish(self) -> None:
        self.status = "closed"
        registry.unregister(self)  # first: whoever sees "closed" finds the entry gone
        try:
            self._pub.emit("pool.status", status="closed")
            self._pub.flush()
        except Exception:
            log.debug("taskscope: could not send the final status", exc_info=True)
        _live.discard(self)
        self._closed.set()

    def close(self, timeout: float = 5.0) -> None:
        """Stop watching (the cluster and the Client keep running, unless the watch made
        the Client from an address). Idempotent."""
        if self._stop.is_set():
            self._closed.wait(timeout)
            return
        if self.mode == "plugin" and self.client.status == "running":
            for step in (lambda: self.client.unsubscribe_topic(self._topic),
                         lambda: self.client.unregister_scheduler_plugin(self._plugin_name)):
                try:
                    step()
                except Exception:
                    log.debug("taskscope: Dask clean-up step failed", exc_info=True)
        self._stop.set()
        self._thread.join(timeout)
        _watches.pop(self._client_key, None)
        if self._own_client:
            self.client.close()
        self._finalizer()

    @property
    def _client_key(self) -> str:
        return str(self.client.id)


def _cleanup(sock: Any, directory: str | None) -> None:
    try:
        sock.close(linger=500)
    except Exception:
        pass
    _transport.remove_dir(directory)


_live: weakref.WeakSet[DaskWatch] = weakref.WeakSet()
_watches: dict[str, DaskWatch] = {}
_watches_lock = threading.Lock()


def live_watches() -> list[DaskWatch]:
    """The running watches of this process, oldest first."""
    return sorted((w for w in _live if w.status != "closed"), key=lambda w: w.started_at)


def watch(target: Any, *, name: str | None = None, plugin: bool = True) -> DaskWatch:
    """The watch of a Dask cluster (made on first use; one per Client).

    Parameters
    ----------
    target:
        a ``distributed.Client``, a cluster object (``LocalCluster``, ...) or a scheduler
        address (``"tcp://10.0.0.5:8786"``; the watch then makes, and later closes, a Client).
    name:
        the name shown in the dashboard and the sidebar (default ``"dask <host:port>"``).
    plugin:
        False to skip the scheduler plugin and poll the task stream instead (what happens
        anyway when the scheduler refuses plugins).
    """
    distributed = _check_distributed()
    if isinstance(target, distributed.Client):
        with _watches_lock:
            w = _watches.get(str(target.id))
            if w is not None and w.status != "closed":
                return w
            w = DaskWatch(target, name=name, plugin=plugin)
            _watches[w._client_key] = w
            return w
    return DaskWatch(target, name=name, plugin=plugin)
