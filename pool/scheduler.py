"""The driver: one thread that owns the sockets, places tasks on workers and publishes events.

::

    caller threads                     driver thread                         worker processes
    map/submit --commands deque-->  wait_for_messages_or_wakeup()  --run-->  DEALER ...
               <-- CallResults /     handle results, deaths, commands <--results--
                   Futures           dispatch(): fill each worker to PREFETCH tasks
                                     every 50 ms: flush events; 0.5 s: sample RSS/CPU
                                                      |
                                                XPUB (signed event batches) --> collectors

Everything that changes the driver's records happens on this thread; callers only append
commands and wake it through a pipe, so the records need no locks. Worker deaths are seen by
polling each worker process's sentinel together with the sockets.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Any

from . import _transport, shm
from .batches import BatchScheduling
from .calls import BACKPRESSURE_ITEMS, Call, Task, with_holder
from .chunking import MAX_CHUNK_BYTES, ItemTimes
from .errors import PoolClosedError, ProtocolError
from .events import EventPublisher
from .faults import FaultHandling
from .futures import TaskFuture
from .graph import GraphScheduling
from .history import History
from .lifecycle import WorkerLifecycle, WorkerRecord
from .mapcalls import MapCalls
from .protocol import Codec
from .results import TaskResults

__all__ = ["Driver"]

SAMPLE_INTERVAL_S = 0.5  # worker RSS/CPU sampled twice a second
# Shared-memory segments kept for reuse outlive idleness this long: fresh segment memory costs
# ~10x a copy into a reused one (3.2 against 0.3 ms for 4 MB here: pages allocated, zeroed,
# mapped), and a notebook's next cell or a loop's next map usually comes within seconds.
SHM_TRIM_AFTER_S = 10.0
SNAPSHOT_INTERVAL_S = 5.0  # periodic snapshot, so a subscriber that missed events recovers
# Tiny submitted tasks travel up to this many per message (as map chunks do); 64 measured
# ~25% slower for a burst of submits: each message costs the driver GIL handoffs (zmq
# calls, HMAC of large frames) behind the busy caller thread...
MAX_SUBMIT_BATCH = 256
# ...and up to about this much work: a graph's tasks wait for their inputs, so their batches
# stay shorter than a map's chunks (chunking.TARGET_CHUNK_S).
SUBMIT_BATCH_S = 0.025
# Small chunks of a map (chunksize=1, or the first probe chunks) travel several to a "run"
# message, up to this many and about SUBMIT_BATCH_S of measured work: one message per item
# made every item wait a driver/worker round trip (chunksize=1 ran at 0.07x multiprocessing).
# Each chunk stays a task of its own (its events, errors, timing and retries).
MAX_UNITS_PER_MESSAGE = 256


class Driver(MapCalls, GraphScheduling, BatchScheduling, TaskResults, FaultHandling,
             WorkerLifecycle, threading.Thread):
    """The pool's manager thread. Public methods are safe to call from any thread.

    Its methods are in seven files: this one (loop, commands, placing, shutdown), results.py
    (results, failures, cancellations), mapcalls.py (map calls: chunks of their input,
    cancelling, ending), graph.py (submitted tasks and their dependencies), batches.py (calls
    fed batch by batch: joblib), lifecycle.py (worker processes) and faults.py (workers killed
    on purpose: memory limit, timeouts, interrupts).
    """

    def __init__(self, *, pool_id: str, name: str, n_workers: int, context: Any,
                 setup: bytes | tuple[Any, ...], max_tasks_per_worker: int | None,
                 memory_limit: int | None, key: bytes, profile: bool = False) -> None:
        super().__init__(name=f"taskscope-driver-{name}", daemon=True)
        self.pool_id = pool_id
        self.pool_name = name
        self.n_workers = n_workers
        self.context = context
        self.setup = setup
        self.max_tasks_per_worker = max_tasks_per_worker
        self.memory_limit = memory_limit
        self.profile = profile  # workers sample their tasks' stacks (profiler.py)
        self._key = key
        self.endpoints = _transport.Endpoints()
        self.codec = Codec(key, "driver")
        self.history = History()  # what a late subscriber is told (history.py)
        self.events = EventPublisher(self.endpoints.events, key, self.history.observe,
                                     self.history.observes)
        # Large buffers travel through shared memory (shm.py); names carry our pid, so a
        # later pool can remove what a driver killed with SIGKILL left behind.
        shm.sweep_stale_segments(_transport.pid_alive)
        self.shm_prefix = f"{shm.PREFIX}{os.getpid()}-{pool_id[:8]}-"
        self.shm = shm.Exporter(self.shm_prefix + "d-", reuse=True)
        self._idle_since: float | None = None
        self._commands: deque[tuple[Any, ...]] = deque()
        # True from a wake-up written to the pipe until the driver starts draining commands:
        # callers then append without a system call (one write per burst of submits, not one
        # per submit: the write and the thread switch it causes were a fifth of submit's cost).
        self._wake_pending = False
        self._poller: Any = None  # rebuilt only when the set of workers changes
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.workers: dict[int, WorkerRecord] = {}
        self._by_identity: dict[bytes, WorkerRecord] = {}
        self._by_sentinel: dict[int, WorkerRecord] = {}
        self._worker_ids = itertools.count()
        self._task_ids = itertools.count(1)
        self.calls: dict[int, Call] = {}
        self._producing: deque[Call] = deque()  # calls with input left to read, oldest first
        self.item_times = ItemTimes()  # each function's last measured item time (mapcalls.py)
        self.init_graph()  # submitted tasks, and the heap of tasks ready to place
        self.init_faults()  # memory limit, timeouts, interrupts
        self.closing = False
        self.status = "running"
        self.broken: BaseException | None = None
        self.closed = threading.Event()
        self.started_at = time.monotonic()
        self._next_sample = 0.0
        self._next_snapshot = 0.0
        self._stop_deadline: float | None = None
        self._call_error_events: dict[int, int] = {}
        self._launched = False  # launch_workers() ran
        self._cancel_pending = False  # shutdown(cancel_futures=True) not yet carried out

    # ------------------------------------------------------------------ caller side
    def command(self, *cmd: Any) -> None:
        if self.closed.is_set() and cmd[0] != "noop":
            raise PoolClosedError(f"taskscope: pool {self.pool_name!r} is shut down; "
                                  "create a new Pool for more work")
        self._commands.append(cmd)
        self.wake()

    def wake(self) -> None:
        # Order matters: a caller appends, then reads the flag; the driver clears the flag,
        # then drains. A caller that sees True appended before the driver's drain began.
        if self._wake_pending:
            return
        self._wake_pending = True
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass  # the pipe is full or closed: the driver is awake (or gone) anyway

    def new_task_id(self) -> int:
        return next(self._task_ids)  # itertools.count is atomic under the GIL

    # ------------------------------------------------------------------ thread body
    def run(self) -> None:
        try:
            if not self._launched:
                self.launch_workers()
            while not self.finished_stopping():
                self.wait_for_messages_or_wakeup()
                self.dispatch()
                self.periodic()
        except BaseException as exc:  # a bug here must not hang every caller: fail them all
            self.broken = exc
            self.fail_everything(exc)
            raise
        finally:
            self.teardown()

    def workers_changed(self) -> None:
        """A worker started or exited: the poller is rebuilt (not on every loop: with 64
        workers, registering every sentinel again cost more than handling a message)."""
        self._poller = None

    def _make_poller(self) -> Any:
        poller = _transport.Poller()
        poller.register(self.endpoints.router, _transport.POLLIN)
        poller.register(self.endpoints.events, _transport.POLLIN)
        poller.register(self._wake_r, _transport.POLLIN)
        for w in self.workers.values():
            if not w.exited:
                poller.register(w.sentinel, _transport.POLLIN)
        return poller

    def wait_for_messages_or_wakeup(self) -> None:
        poller = self._poller
        if poller is None:
            poller = self._poller = self._make_poller()
        now = time.monotonic()
        timeout = min(self._next_sample, self._next_snapshot, self.next_fault_check()) - now
        if self.events.pending:
            timeout = min(timeout, self.events.next_flush - now)
        ready = dict(poller.poll(max(0, int(timeout * 1000)) if timeout > 0 else 0))
        if self._wake_r in ready:
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
        self._wake_pending = False  # before draining: see wake()
        # A joiner's snapshot first: the events of this round's commands then come after the
        # story they add to (a dashboard displayed while the workers were still starting would
        # otherwise get the first submits' events before its snapshot, and draw them as missed).
        if ready.get(self.endpoints.events) and self.events.poll_subscriptions():
            self.emit_snapshot(history=True)  # a late joiner is told the story so far
        self.handle_commands()
        if ready.get(self.endpoints.router):
            self.handle_worker_messages()
        for fd in ready:
            w = self._by_sentinel.get(fd) if isinstance(fd, int) else None
            if w is not None and not w.exited:
                self.handle_worker_exit(w)

    def periodic(self) -> None:
        now = time.monotonic()
        if now >= self._next_sample:
            self._next_sample = now + SAMPLE_INTERVAL_S
            self.sample_workers()
        self.check_faults(now)
        if now >= self._next_snapshot:
            self._next_snapshot = now + SNAPSHOT_INTERVAL_S
            self.emit_snapshot()
        self.flush_releases()
        self.history.profiles.publish(self.events, now)
        if self.shm.kept_bytes:  # idle for a while: segments kept for reuse are given back
            if self.work_left():
                self._idle_since = None
            elif self._idle_since is None:
                self._idle_since = now
            elif now - self._idle_since >= SHM_TRIM_AFTER_S:
                self.shm.trim()
        if self.events.due(now):
            self.events.flush()

    # ------------------------------------------------------------------ messages
    def handle_worker_messages(self) -> None:
        router = self.endpoints.router
        while True:
            try:
                frames = _transport.recv_frames(router, _transport.zmq.NOBLOCK)
            except _transport.zmq_again:
                return
            identity = frames[0].bytes
            w = self._by_identity.get(identity)
            try:
                msg = self.codec.decode(frames[1:])
            except ProtocolError:
                continue  # dropped and counted (codec.dropped); never decoded further
            if w is None and msg.kind == "control" and msg.src.startswith("control:"):
                self.handle_control(msg.body)  # from the Jupyter server (pool/control.py)
                continue
            if w is None and msg.kind == "profile":
                self.handle_profile(identity, msg)  # a long task's samples (profiler.py)
                continue
            if w is None or msg.src != f"worker:{w.id}":
                continue  # a message claiming another worker's name
            descs = msg.body.get("shm")
            if descs and msg.kind in ("results", "data"):
                own = f"{self.shm_prefix}w{w.id}-"  # a worker names only its own segments
                shm.attach_all(msg.payload, [d for d in descs if str(d[1]).startswith(own)],
                               unlink_now=True)
            if msg.kind == "results":
                self.handle_results(w, msg.body, msg.payload)
            elif msg.kind == "data":
                self.handle_data(w, msg.body, msg.payload)
            else:
                self.handle_hello(w, msg)

    def snapshot_body(self, history: bool = False, rings: bool = True) -> dict[str, Any]:
        """The snapshot event's body; with `history`, also what a subscriber that joins now
        missed (history.py). Driver thread only, or once it has ended."""
        body: dict[str, Any] = {
            "pool": {"id": self.pool_id, "name": self.pool_name, "pid": os.getpid(),
                     "n_workers": self.n_workers, "status": self.status,
                     "started": self.started_at, "memory_limit": self.memory_limit,
                     "profile": self.profile},
            "workers": [w.summary() for w in self.workers.values()],
            "calls": [c.summary() for c in list(self.calls.values())[-50:]]}
        if history:
            self.history.attach(body, list(self.calls.values()), self.graph, rings)
        return body

    def emit_snapshot(self, history: bool = False) -> None:
        self.history.profiles.publish(self.events, force=True)  # samples before the summary
        self.events.emit("snapshot", **self.snapshot_body(history))

    def handle_control(self, body: dict[str, Any]) -> None:
        call = self.calls.get(body.get("call")) if isinstance(body.get("call"), int) else None
        if body.get("action") == "cancel_call" and call is not None and not call.complete:
            # A person pressed "cancel": its running tasks stop too (workers killed, replaced).
            self.interrupt_running(lambda t: t.call is call, f"call {call.id} ({call.api})")
            self.cancel_call(call.id, "cancelled")

    # ------------------------------------------------------------------ commands
    def handle_commands(self) -> None:
        while self._commands:
            cmd = self._commands.popleft()
            kind = cmd[0]
            if kind == "submit":  # (every submitted task sends these two: tested first)
                self.add_submitted(cmd[1], cmd[2])
            elif kind == "release":
                self.release_future(cmd[2])
            elif kind == "call":
                self.start_call(cmd[1])
            elif kind == "batch":
                self.batch_command(*cmd[1:])
            elif kind == "cancel_call":
                self.cancel_call(cmd[1], cmd[2])
            elif kind == "fetch":
                task = self.graph.get(cmd[1])
                future = task.future if task is not None else None
                if future is not None:
                    self.request_fetch(task.id, ("future", future))
            elif kind == "interrupt_tasks":
                self.interrupt_tasks(cmd[1])
            elif kind == "cancel_task":
                task = self.graph.get(cmd[1])
                if task is not None:
                    self.cancel_graph_task(task, "cancelled by its Future")
            elif kind == "status":
                self.status = cmd[1]
                self.events.emit("pool.status", status=cmd[1])
            elif kind == "shutdown":
                self.begin_shutdown(cancel=cmd[1])
            elif kind == "story":
                if cmd[1].set_running_or_notify_cancel():
                    cmd[1].set_result(self.snapshot_body(history=True, rings=cmd[2]))

    def announce(self, call: Call) -> None:
        self.calls[call.id] = call
        while len(self.calls) > 1000:  # keep the records of recent calls only
            old = next(iter(self.calls.values()))
            if not old.complete:
                break
            del self.calls[old.id]
            self.history.retire(old)  # its function's counts keep it
        self.events.emit("call.started", call=call.id, api=call.api, total=call.total, **call.info)

    def resume_after_interrupt(self) -> None:
        """New work after an interrupted call: the pool is running again (not stuck showing
        "interrupted" in every dashboard)."""
        if self.status == "interrupted":
            self.status = "running"
            self.events.emit("pool.status", status="running")

    def add_submitted(self, task: Task, dep_ids: list[int]) -> None:
        call = task.call
        if call.id not in self.calls:
            self.announce(call)
        if self.closing or self.broken is not None:
            err = self.broken or PoolClosedError("taskscope: the pool is shutting down")
            future = task.future
            if future is not None and future.set_running_or_notify_cancel():
                future.set_exception(err)
            return
        self.resume_after_interrupt()
        self.uses_timeout(task.timeout)
        call.submitted += 1
        call.outstanding += 1
        if call.total is not None:
            call.total += 1
        self.add_graph_task(task, dep_ids)  # (publishes task.waiting or task.queued)

    # ------------------------------------------------------------------ placing work
    def dispatch(self) -> None:
        """Place ready tasks (highest priority first, each on its best worker), then fill
        what room is left with chunks of running map calls."""
        if self.closing and self._stop_deadline is not None:
            return
        while self.has_ready():
            free = [w for w in self.workers.values() if w.has_room()]
            if free:
                free = self.workers_for(self.peek_ready(), free)  # batches.py
            if not free:
                break
            self.place(self.pop_ready(), free)
        for w in sorted(self.workers.values(), key=lambda w: len(w.messages)):
            while w.has_room():
                task = self.next_chunk(w)
                if task is None:
                    break
                self.send_tasks(w, self.more_chunks(w, task))
            if w.budget is not None and w.budget <= 0 and not w.inflight and not w.stopping:
                self.stop_worker(w)  # max_tasks_per_worker reached: recycle it
        if self.closing:
            self.cancel_pending_work()
            self.maybe_stop_workers()

    def more_chunks(self, w: WorkerRecord, first: Task) -> list[Task]:
        """`first` and, when its chunks are small, more chunks of the same call for the same
        message: up to SUBMIT_BATCH_S of measured work, and no more than a fair share of
        what is left of the call (so the last items do not all go to one worker)."""
        batch = [first]
        call = first.call
        per_item = call.sizer.per_item_s
        if per_item is None or call.timeout is not None or w.budget is not None:
            return batch  # not timed yet; a deadline is per message; recycling counts items
        work = per_item * first.n
        if call.sizer.pairs(first.n) and call.producing:  # a short call's first two (chunking.py)
            second = self.make_chunk(call, w)
            return batch if second is None else [first, second]
        if work >= SUBMIT_BATCH_S / 4:
            return batch  # a chunk of real size (adaptive chunks aim at 100 ms): alone
        items, share = first.n, float("inf")
        if call.total is not None:  # items, not chunks: the tail must stay spread out
            share = (call.total - call.submitted + first.n) / (2 * len(self.workers))
        per_bytes = call.sizer.bytes_per_item or 0.0
        nbytes = per_bytes * first.n
        while (len(batch) < MAX_UNITS_PER_MESSAGE and work < SUBMIT_BATCH_S
               and nbytes < MAX_CHUNK_BYTES and items < share):
            if not (self._producing and self._producing[0] is call and call.producing):
                break
            if call.results is not None and call.results.buffered > BACKPRESSURE_ITEMS:
                break  # next_chunk pauses a lagging imap; do not run ahead of it here
            task = self.make_chunk(call, w)
            if task is None:
                break
            batch.append(task)
            items += task.n
            work += per_item * task.n
            nbytes += per_bytes * task.n  # a message's inputs stay under ~16 MiB too
        return batch

    def place(self, task: Task, free: list[WorkerRecord]) -> None:
        if not _may_run(task.future):
            self.end_cancelled(task)  # cancelled while it waited in the queue
            return
        w = self.choose_worker(task, free)
        specs: list[Any] = []
        frames: list[Any] = []
        if task.deps:
            specs, frames, missing = self.inputs_for(task, w)
            if missing:
                self.park_for_inputs(task, w, missing)
                return
        batch = [task]
        per_item = task.call.sizer.per_item_s
        if per_item is not None and per_item < SUBMIT_BATCH_S / 4 and task.timeout is None \
                and task.n == 1:  # (a batch call's tasks are sized already: one per message)
            # Tiny submitted tasks: batch them, but leave a share for the other workers.
            # Dependent ones too (a tree's adds), when `w` has or is sent all their inputs.
            share = self.ready_count() // max(1, len(self.workers))
            limit = min(MAX_SUBMIT_BATCH, share, int(SUBMIT_BATCH_S / max(per_item, 1e-6)))
            if w.budget is not None:
                limit = min(limit, w.budget)  # max_tasks_per_worker counts submits too
            relayed = {spec["task"] for spec in specs}
            while self.has_ready() and len(batch) < limit:
                nxt = self.peek_ready()
                if nxt.call is not task.call or nxt.timeout is not None:
                    break  # a task with a timeout travels alone: its deadline is its own
                more: tuple[list[Any], list[Any]] = ([], [])
                if nxt.deps:
                    s2, f2, missing = self.inputs_for(nxt, w, relayed)
                    if missing:
                        break  # its inputs must be fetched first: placed on its own
                    more = (s2, f2)
                self.pop_ready()
                if not _may_run(nxt.future):
                    self.end_cancelled(nxt)
                    continue
                specs += more[0]
                frames += more[1]
                relayed.update(spec["task"] for spec in more[0])
                batch.append(nxt)
        self.send_tasks(w, batch, specs, frames)

    def send_tasks(self, w: WorkerRecord, tasks: list[Task], data_specs: list[Any] = (),
                   data_frames: list[Any] = ()) -> None:
        """One "run" message: inputs it lacks, functions it has not seen, then the units."""
        fns, payload = [], list(data_frames)
        for spec in data_specs:  # it will hold a copy of these inputs from now on
            dep = self.graph.get(spec["task"])
            if dep is not None and w.id not in dep.holders:
                dep.holders = with_holder(dep.holders, w.id)
                w.managed += dep.nbytes
                self.memflow.hold(w.id, dep)
        for task in tasks:
            call = task.call
            if (call.mode != "call" or task.apart) and call.id not in w.fns_sent:
                fns.append({"call": call.id, "nf": len(call.fn_frames)})
                payload.extend(call.fn_frames)
                w.sent_fn(call.id)
        # The units as columns (1.7): one list per field, not a map per unit.
        ids, call_ids, modes, ns, nfs = [], [], [], [], []
        keep, apart, deps = [], [], []
        started: list[tuple[int, list[int], list[int]]] = []  # (call, task ids, item counts)
        for task in tasks:
            call = task.call
            ids.append(task.id)
            call_ids.append(call.id)
            modes.append(call.mode)
            ns.append(task.n)
            nfs.append(len(task.frames))
            keep.append(task.keep)
            apart.append(task.apart)
            deps.append([d.id for d in task.deps] if task.deps else None)
            payload.extend(task.frames)
            task.worker = w.id
            task.state = "processing"
            w.inflight[task.id] = task
            call.processing += task.n
            if w.budget is not None:
                w.budget -= task.n
            if not started or started[-1][0] != call.id:
                started.append((call.id, [], []))
            started[-1][1].append(task.id)
            started[-1][2].append(task.n)
        # task.processing: one `tasks` event per call of the message, not one emit per task
        for call_id, ids, ns in started:
            self.events.emit_tasks("task.processing", call_id, {"worker": w.id}, ids, ns)
        w.messages.append([t.id for t in tasks])
        if len(w.messages) == 1:
            self.note_running(w)  # it starts on this message now: its timeout starts
        units = {"task": ids, "call": call_ids, "mode": modes, "n": ns, "nf": nfs}
        for name, column in (("keep", keep), ("fa", apart), ("deps", deps)):
            if any(column):  # (left out when no unit has it)
                units[name] = column
        body = {"data": list(data_specs), "fns": fns, "cols": units}
        payload, descs = self.shm.export(payload)
        if descs:
            body["shm"] = descs
        w.segments.append([d[1] for d in descs])  # freed when the message is answered
        _transport.send_frames(self.endpoints.router, self.codec.encode("run", body, payload),
                               identity=w.identity)

    # ------------------------------------------------------------------ shutdown
    def begin_shutdown(self, cancel: bool) -> None:
        self.closing = True
        # The cancelling itself waits for dispatch() to hand the workers their first round (see
        # cancel_pending_work): work submitted just before shutdown(cancel_futures=True) must
        # not all be cancelled merely because the workers were still starting; the stdlib's
        # pool has by then moved max_workers + 1 calls to its call queue, and runs them.
        self._cancel_pending = self._cancel_pending or cancel

    def cancel_pending_work(self) -> None:
        """shutdown(cancel_futures=True): cancel all work not yet sent to a worker."""
        if not self._cancel_pending:
            return
        if self.workers and not any(w.ready for w in self.workers.values()):
            return  # still starting: dispatch() calls again
        self._cancel_pending = False
        for call in list(self.calls.values()):
            if not call.complete:
                self.stop_call(call, "cancelled")
                self.maybe_end_call(call)

    def work_left(self) -> bool:
        return self.has_ready() or bool(self._parked) or any(
            c.producing for c in self._producing) or any(w.inflight for w in self.workers.values())

    def fail_everything(self, exc: BaseException) -> None:
        for task in self.remove_ready(lambda t: True):
            self.fail_task(task, exc, None)
        for task in list(self.graph.values()):
            if task.state == "waiting":
                self.fail_task(task, exc, None)
        for call in list(self.calls.values()):
            if not call.complete:
                self.stop_call(call, "erred")
            if call.results is not None and not call.results.finished:
                call.results.finish(exc)
        for w in self.workers.values():
            for task in list(w.inflight.values()):
                w.inflight.pop(task.id)
                self.fail_task(task, exc, w)

    def teardown(self) -> None:
        self.status = "closed"
        for w in list(self.workers.values()):
            if w.process.is_alive():
                w.process.kill()
            w.process.join(1)
        try:
            self.events.emit("pool.status", status="closed")
            self.emit_snapshot()
            self.events.flush()
        except Exception:
            pass
        self.endpoints.close()
        self.shm.close()
        shm.sweep(self.shm_prefix)  # results of workers that never reached us
        os.close(self._wake_r)
        os.close(self._wake_w)
        self.closed.set()


def _may_run(future: Future | None) -> bool:
    """Mark a task's Future running; False if it was cancelled. A task placed again (its
    worker died before it started, or it is retried) has a Future that already runs."""
    if future is None:
        return True
    if not isinstance(future, TaskFuture) and future.running():  # (TaskFuture's own
        return True  # set_running_or_notify_cancel says True to a running one: one lock less)
    return future.set_running_or_notify_cancel()
