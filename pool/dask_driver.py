"""The driver of a `Pool(cluster=...)`: one thread that feeds Dask and publishes taskscope events.

::

    caller threads --commands--> DaskDriver thread ----client.submit(run_chunk)----> Dask
                                   |   ^  done callbacks, timing events (log_event) |
                 <-CallResults,    |   +------------------------------------------+
                   TaskFutures     +--XPUB (signed event batches)--> collectors, server

The same event schema, publisher, registry entry and control socket as a local pool's driver
(scheduler.py), so every pane, the State, the sidebar and the pop-out page show a Dask-backed
pool with no second code path. Map calls are cut into adaptive chunks (chunking.py) that Dask
runs as one task each; at most `PREFETCH` chunks per worker thread are in flight, so the chunk
size follows the measured time per item and a lazy input is read only as fast as it is
consumed. Submitted tasks are Dask futures; their results stay on the Dask workers.
"""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Any

from . import _transport
from .calls import Call
from .dask_graph import DaskGraph
from .dask_mapcalls import DaskMapCalls
from .dask_tasks import DaskTask, DaskWorkers
from .errors import PoolClosedError, ProtocolError
from .events import EventPublisher
from .protocol import Codec

__all__ = ["DaskDriver"]

SAMPLE_INTERVAL_S = 0.5  # scheduler_info() polled twice a second (Dask's own heartbeat rate)
SNAPSHOT_INTERVAL_S = 5.0


class DaskDriver(DaskMapCalls, DaskGraph, threading.Thread):
    """The thread that owns a Dask-backed pool's records. Public methods are thread-safe.

    Its methods are in three files: this one (loop, commands, workers, snapshot, shutdown),
    dask_mapcalls.py (map calls in chunks) and dask_graph.py (submitted tasks).
    """

    def __init__(self, *, pool_id: str, name: str, client: Any, owns_client: bool,
                 key: bytes) -> None:
        super().__init__(name=f"taskscope-dask-driver-{name}", daemon=True)
        self.pool_id = pool_id
        self.pool_name = name
        self.client = client
        self.owns_client = owns_client
        self.topic = f"taskscope-{pool_id}"  # the timing events of this pool's submits
        self.endpoints = _transport.Endpoints()
        self.codec = Codec(key, "driver")
        self.events = EventPublisher(self.endpoints.events, key)
        self._commands: deque[tuple[Any, ...]] = deque()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.calls: dict[int, Call] = {}
        self._producing: deque[Call] = deque()
        self.chunks: dict[int, DaskTask] = {}  # map chunks in flight
        self.tasks: dict[int, DaskTask] = {}  # submitted tasks not yet ended
        self.kept: dict[int, DaskTask] = {}  # submitted tasks whose result is on a worker
        self._timings: dict[int, list[Any]] = {}  # task id -> its timing event, if early
        self._finished: list[DaskTask] = []  # map chunks whose futures are done: gathered next
        self._awaiting: dict[int, tuple[DaskTask, float]] = {}  # submits done, timing due
        self._error_events: dict[int, int] = {}
        self._failed_keys: dict[int, str] = {}  # task id -> key of submits that raised
        self._task_ids = iter(range(1, 1 << 62))
        self._ids_lock = threading.Lock()
        self.workers = DaskWorkers(self.events)
        self.status = "running"
        self.broken: BaseException | None = None
        self.closing = False
        self._cancel_pending = False
        self.closed = threading.Event()
        self.started_at = time.monotonic()
        self._next_sample = 0.0
        self._next_snapshot = 0.0
        self._wall_offset = time.time() - time.monotonic()  # Dask's times are wall-clock
        self.client.subscribe_topic(self.topic, self._on_timing_event)

    # ------------------------------------------------------------------ any thread
    def command(self, *cmd: Any) -> None:
        if self.closed.is_set():
            raise PoolClosedError(f"taskscope: pool {self.pool_name!r} is shut down; "
                                  "create a new Pool for more work")
        self._commands.append(cmd)
        self.wake()

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass

    def new_task_id(self) -> int:
        with self._ids_lock:
            return next(self._task_ids)

    def _on_done(self, task_id: int) -> None:  # Dask's callback thread
        if not self.closed.is_set():
            self._commands.append(("done", task_id))
            self.wake()

    def _on_timing_event(self, event: Any) -> None:  # the Client's IO-loop thread: enqueue only
        if not self.closed.is_set():
            self._commands.append(("timing", event[1]))
            self.wake()

    def mono(self, wall: float) -> float:
        """A Dask worker's wall-clock time on this process's monotonic clock (the event
        stream's clock)."""
        return wall - self._wall_offset

    # ------------------------------------------------------------------ thread body
    def begin(self) -> None:
        """Announce the pool and its workers (in the caller's thread, before `start`: the
        first chunk's size depends on the number of worker threads)."""
        infos = self.scheduler_workers() or {}
        limits = [w.get("memory_limit") for w in infos.values() if w.get("memory_limit")]
        self.events.emit("pool.started", id=self.pool_id, name=self.pool_name,
                         pid=os.getpid(), n_workers=len(infos), start_method="dask",
                         memory_limit=min(limits) if limits else None,
                         scheduler=self.client.scheduler.address)
        self.events.emit("pool.status", status="running")
        self.workers.update(infos)

    def run(self) -> None:
        try:
            while not self.finished_stopping():
                self.wait_for_messages_or_wakeup()
                self.collect_finished()
                self.dispatch()
                self.periodic()
        except BaseException as exc:  # a bug here must not hang every caller
            self.broken = exc
            self.fail_everything(exc)
            raise
        finally:
            self.teardown()

    def wait_for_messages_or_wakeup(self) -> None:
        poller = _transport.Poller()
        poller.register(self.endpoints.router, _transport.POLLIN)
        poller.register(self.endpoints.events, _transport.POLLIN)
        poller.register(self._wake_r, _transport.POLLIN)
        now = time.monotonic()
        due = [self._next_sample, self._next_snapshot]
        if self.events.pending:
            due.append(self.events.next_flush)
        due.extend(deadline for _, deadline in self._awaiting.values())
        timeout = max(0.0, min(due) - now)
        ready = dict(poller.poll(int(timeout * 1000)))
        if self._wake_r in ready:
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
        self.handle_commands()
        if ready.get(self.endpoints.router):
            self.handle_control()
        if ready.get(self.endpoints.events) and self.events.poll_subscriptions():
            self.emit_snapshot()

    def periodic(self) -> None:
        now = time.monotonic()
        if now >= self._next_sample:
            self._next_sample = now + SAMPLE_INTERVAL_S
            self.sample()
        for task, deadline in list(self._awaiting.values()):
            if now >= deadline:  # its timing event never came: end it without
                self._awaiting.pop(task.id, None)
                self.end_submitted(task, [task.id, time.time(), time.time(), "", None, 0, True])
        if now >= self._next_snapshot or self.workers.pids_learned:
            self.workers.pids_learned = False
            self._next_snapshot = now + SNAPSHOT_INTERVAL_S
            self.emit_snapshot()
        if self.events.due(now):
            self.events.flush()

    def scheduler_workers(self) -> dict[str, Any] | None:
        if str(getattr(self.client, "status", "running")) != "running":
            return None  # closing: a call now could wait out Dask's connect timeout
        try:
            return dict(self.client.scheduler_info(n_workers=-1).get("workers", {}))
        except Exception:  # the scheduler is away
            return None

    def sample(self) -> None:
        """Workers joined and gone, and their CPU and memory, from the scheduler."""
        infos = self.scheduler_workers()
        if infos is not None:  # (None: away; its workers stay as last seen)
            self.workers.update(infos, closing=self.closing)
        self._wall_offset = time.time() - time.monotonic()  # follow clock adjustments

    def emit_snapshot(self) -> None:
        self.events.emit(
            "snapshot",
            pool={"id": self.pool_id, "name": self.pool_name, "pid": os.getpid(),
                  "n_workers": self.workers.count, "status": self.status,
                  "started": self.started_at, "memory_limit": self.workers.memory_limit,
                  "scheduler": self.client.scheduler.address},
            workers=self.workers.summaries(),
            calls=[c.summary() for c in list(self.calls.values())[-50:]])

    def handle_control(self) -> None:
        """Signed controls from the Jupyter server (pool/control.py): cancel a call."""
        while True:
            try:
                frames = _transport.recv_frames(self.endpoints.router, _transport.zmq.NOBLOCK)
            except _transport.zmq_again:
                return
            try:
                msg = self.codec.decode(frames[1:])
            except ProtocolError:
                continue  # dropped and counted, never decoded further
            body = msg.body
            if msg.kind == "control" and msg.src.startswith("control:") \
                    and body.get("action") == "cancel_call" and isinstance(body.get("call"), int):
                self.cancel_call(body["call"], "cancelled")

    # ------------------------------------------------------------------ commands
    def handle_commands(self) -> None:
        while self._commands:
            cmd = self._commands.popleft()
            kind = cmd[0]
            if kind == "done":
                self.on_done(cmd[1])
            elif kind == "timing":
                self.on_timing(cmd[1])
            elif kind == "call":
                self.start_call(cmd[1])
            elif kind == "submitted":
                self.add_submitted(cmd[1])
            elif kind == "cancel_call":
                self.cancel_call(cmd[1], cmd[2])
            elif kind == "cancel_tasks":
                self.cancel_tasks(cmd[1], cmd[2])
            elif kind == "release":
                task = self.kept.pop(cmd[1], None)
                if task is not None:
                    task.state = "released"
                    self.events.emit("task.released", call=task.call.id, task=task.id, n=1)
            elif kind == "shutdown":
                self.closing = True
                self._cancel_pending = self._cancel_pending or cmd[1]

    def announce(self, call: Call) -> None:
        self.calls[call.id] = call
        while len(self.calls) > 1000:
            old = next(iter(self.calls.values()))
            if not old.complete:
                break
            del self.calls[old.id]
        self.events.emit("call.started", call=call.id, api=call.api, total=call.total, **call.info)

    def resume(self) -> None:
        if self.status == "interrupted":
            self.status = "running"
            self.events.emit("pool.status", status="running")

    # ------------------------------------------------------------------ shutdown
    def finished_stopping(self) -> bool:
        if self.client_lost():
            return True
        return self.closing and not self.chunks and not self._finished and not self.tasks \
            and not any(c.producing for c in self._producing)

    def client_lost(self) -> bool:
        """The Client was closed under us (by its owner, or at exit): nothing outstanding can
        end any more, so it all fails now, with a reason, and the driver stops."""
        status = str(getattr(self.client, "status", "running"))
        if status in ("running", "connecting", "newly-created"):
            return False
        if self.broken is None:
            self.broken = ConnectionError(
                f"taskscope: the Dask Client of pool {self.pool_name!r} was closed (status "
                f"{status!r}) while the pool used it; its work that had not ended is lost. "
                "Keep the Client open until pool.shutdown() returns")
            self.status = "broken"
            self.events.emit("pool.status", status="broken", message=str(self.broken))
            self.fail_everything(self.broken)
        return True

    def fail_everything(self, exc: BaseException) -> None:
        for call in list(self.calls.values()):
            if call.results is not None and not call.results.finished:
                call.results.finish(exc)
        for task in list(self.tasks.values()):
            future = task.tfuture()
            if future is not None and not future.done():
                future.set_exception(exc)
        self.tasks.clear()
        self.chunks.clear()
        self._finished.clear()
        self.fail_commands(exc)

    def fail_commands(self, exc: BaseException) -> None:
        """Work handed over but not yet taken up (the driver stops first): it fails too."""
        while self._commands:
            cmd = self._commands.popleft()
            if cmd[0] == "call" and not cmd[1].results.finished:
                cmd[1].results.finish(exc)
            elif cmd[0] == "submitted":
                future = cmd[1].tfuture()
                if future is not None and not future.done():
                    future.set_exception(exc)

    def teardown(self) -> None:
        self.status = "closed"
        try:
            self.client.unsubscribe_topic(self.topic)
        except Exception:
            pass
        try:
            self.events.emit("pool.status", status="closed")
            self.emit_snapshot()
            self.events.flush()
        except Exception:
            pass
        self.endpoints.close()
        self.closed.set()
        # Commands that came in meanwhile (from here on, `command` refuses new ones).
        self.fail_commands(self.broken or PoolClosedError(
            f"taskscope: pool {self.pool_name!r} was shut down before this work started"))
        os.close(self._wake_r)
        os.close(self._wake_w)
        if self.owns_client:
            try:
                self.client.close()
            except Exception:
                pass
