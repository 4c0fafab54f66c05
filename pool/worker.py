"""The worker process: receive a batch of work, run it, send results with their timings.

::

    driver ROUTER  --run [units]-->  DEALER worker: unpickle (after verify) -> fn(item)...
                   <--results------  values + per-item errors + start/end + insights

A worker never decides what to run next: the driver keeps at most a couple of batches queued
at each worker, so no worker sits idle and none hoards work. Timings ride on the result
messages: no extra round trip. The worker exits when told to, or on its own when the driver
process is gone (parent-death signal and a watchdog thread), so no orphans are left behind.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import itertools
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

from . import _pickle, _transport, profiler, running_slot, shm
from ._deps import substitute
from .errors import SerializationError, TaskError
from .protocol import Codec, Message

__all__ = ["WorkerConfig", "worker_main"]

WATCHDOG_INTERVAL_S = 0.2  # the driver's death is noticed well within the promised 2 s
FN_CACHE_SIZE = 64  # functions of recent calls kept per worker (sent once per call)
LONGEST_KEPT = 5  # MPIRE-style "longest tasks" insight
TIME_EACH_ITEM_ABOVE_S = 100e-6  # below this per item, timing each one costs more than it tells
# A clean unit's result of one pickle frame this small travels in its record (1.6): a frame
# of its own cost the driver a join entry, a slice and a copy (256 a message of submits).
INLINE_BYTES = 4096
EAGER_RESULT_BYTES = 64 * 1024  # a kept result this small also rides back with its completion
# A message of many tasks is answered in parts, each once this much work is done since the
# last: the driver sees progress, and a death loses at most this much finished work.
RESULT_FLUSH_S = 0.002
MAPS_CHECK_S = 1.0  # how often mappings of shared-memory segments are checked for unlinked ones

# True in a worker process (set by worker_main): engines ask it, e.g. a joblib Parallel call
# made inside a task runs in threads or sequentially there, not on a pool of its own.
IN_WORKER = False
INIT_FAILED = 3  # the exit code of a worker whose initializer raised


def _loads_paused(frames: list[Any]) -> Any:
    """Unpickle a unit with the garbage collector paused: every object a load makes stays
    alive (nothing for it to find), yet a batch of 8,000 (fn, args, kwargs) triples makes the
    collector traverse the growing heap again and again -- 4x the load's own time (joblib's
    tiny tasks: 1.3 -> 0.3 us a task)."""
    if not gc.isenabled():
        return _pickle.loads(frames)
    gc.disable()
    try:
        return _pickle.loads(frames)
    finally:
        gc.enable()


@dataclass
class WorkerConfig:
    worker_id: int
    endpoint: str
    key: bytes
    driver_pid: int
    # (initializer, initargs, worker_state, has_state): pickled by taskscope, or the objects
    # themselves when only multiprocessing can pickle them (its Queue, Lock... in initargs)
    setup: bytes | tuple[Any, ...]
    slot: str | None = None  # the running slot's file (running_slot.py)
    shm_prefix: str | None = None  # names of the shared-memory segments it makes (shm.py)
    profile: bool = False  # sample the running task's stack (profiler.py)

    def __repr__(self) -> str:  # the key never reaches a log
        return f"WorkerConfig(worker_id={self.worker_id}, endpoint=<hidden>)"


def _set_parent_death_signal() -> None:
    """Linux: ask the kernel to SIGKILL us when our parent process dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # pragma: no cover - the watchdog still covers us
        pass


def _watchdog(driver_pid: int) -> None:
    parent = os.getppid()
    while True:
        time.sleep(WATCHDOG_INTERVAL_S)
        if os.getppid() != parent or not _transport.pid_alive(driver_pid):
            os._exit(70)  # the driver is gone: nobody will read our results


class _Worker:
    def __init__(self, cfg: WorkerConfig) -> None:
        self.cfg = cfg
        self.codec = Codec(cfg.key, f"worker:{cfg.worker_id}")
        self.sock = _transport.connect_dealer(cfg.endpoint, f"w{cfg.worker_id}".encode())
        self.fns: dict[int, Any] = {}
        self.state: Any = None
        self.has_state = False
        self.working = 0.0
        self.waiting = 0.0
        self.longest: list[tuple[float, str]] = []
        # Results of submitted tasks this worker holds (the task graph's "memory" state),
        # and their pickled sizes: what the memory bars call managed memory.
        self.store: dict[int, Any] = {}
        self.sizes: dict[int, int] = {}
        self.managed = 0
        self.per_item_s = 0.0  # average item time of the last unit: decides per-item timing
        self.results_sent: Any = None  # zmq's tracker of the last results message
        self.slot = running_slot.Writer(cfg.slot)
        self.shm = shm.Exporter(cfg.shm_prefix or "", reuse=False)
        self.shm.enabled = self.shm.enabled and cfg.shm_prefix is not None
        self.maps = shm.Mappings()  # the driver's segments, mapped while they exist
        # The statistical profiler (profiler.py): `call` says whose samples these are.
        self.profiler = profiler.Sampler(connect=profiler.long_unit_sender(
            cfg.endpoint, cfg.key, cfg.worker_id)).start() if cfg.profile else profiler.NoSampler()

    def send(self, kind: str, body: dict[str, Any], payload: list[Any] = ()) -> None:  # type: ignore[assignment]
        _transport.send_frames(self.sock, self.codec.encode(kind, body, payload))

    def send_results(self, body: dict[str, Any], payload: list[Any]) -> None:
        """Send results, tracked: see `results_out`. Only the last frame is tracked (zmq
        sends a message's frames in order, so it is freed last); tracking every frame cost
        more than the tiny tasks whose results they carried."""
        frames = self.codec.encode("results", body, payload)
        for f in frames[:-1]:
            self.sock.send(f, _transport.zmq.SNDMORE, copy=_nbytes(f) < _transport.COPY_THRESHOLD)
        last = _transport.zmq.Frame(frames[-1], track=True, copy_threshold=0)
        self.results_sent = self.sock.send(last, copy=False, track=True)

    def results_out(self) -> None:
        """Before running the next message, wait until zmq's I/O thread has taken the last
        results: sent from the application thread only, they would die with this process
        if the next task crashed it at once (a segfault, os._exit, the OOM killer), and the
        driver would blame the tasks that finished instead of the one that crashed."""
        tracker, self.results_sent = self.results_sent, None
        if tracker is not None and not tracker.done:
            try:
                tracker.wait(1.0)
            except Exception:  # NotDone after 1 s: carry on
                pass

    def run(self) -> int:
        self.send("hello", {"pid": os.getpid()})
        t0 = time.monotonic()
        try:
            setup = self.cfg.setup
            if isinstance(setup, bytes):
                setup = _pickle.loads([setup])
            initializer, initargs, state, self.has_state = setup
            self.state = state
            if initializer is not None:
                if self.has_state:
                    initializer(self.state, *initargs)
                else:
                    initializer(*initargs)
        except BaseException as exc:
            # An initializer may have logged its failure through a multiprocessing.Queue (as
            # CPython's executor tests do): its feeder thread is flushed by the stdlib's exit
            # handlers, which os._exit skips. Run them before the driver hears of the failure,
            # since it breaks the pool at once and a reader may look for the record then.
            # Rare and not on any hot path.
            import multiprocessing.util

            multiprocessing.util._exit_function()
            self.send("init_failed", {"exc_type": type(exc).__name__, "message": str(exc),
                                      "traceback": "".join(traceback.format_exception(exc))})
            return INIT_FAILED
        self.send("ready", {"init": time.monotonic() - t0})
        idle_since = maps_checked = time.monotonic()
        while True:
            # Mappings of the driver's segments are checked every MAPS_CHECK_S, busy or idle:
            # the memory of a segment the driver has unlinked goes when the worker lets go.
            if self.maps and time.monotonic() - maps_checked >= MAPS_CHECK_S:
                self.maps.forget_gone()
                maps_checked = time.monotonic()
            if self.maps and not self.sock.poll(MAPS_CHECK_S * 1000):
                continue
            frames = _transport.recv_frames(self.sock)
            try:
                msg = self.codec.decode(frames)
            except Exception:
                continue  # unsigned, tampered or replayed: dropped unread (counted in codec)
            if msg.kind == "stop":
                break
            if msg.kind == "fetch":
                self.send_data(msg.body.get("tasks", ()))
                continue
            if msg.kind == "release":
                for task_id in msg.body.get("tasks", ()):
                    self.store.pop(task_id, None)
                    self.managed -= self.sizes.pop(task_id, 0)
                continue
            if msg.kind != "run":
                continue
            self.results_out()
            began = time.monotonic()
            self.waiting += began - idle_since
            self.run_batch(msg, began)
            idle_since = time.monotonic()
        self.send("bye", {"insights": {"working": self.working, "waiting": self.waiting}})
        return 0

    def send_data(self, task_ids: Any) -> None:
        """Answer a fetch: the pickled results asked for (``missing`` if no longer held)."""
        items, payload = [], []
        for task_id in task_ids:
            if task_id not in self.store:
                items.append({"task": task_id, "nf": 0, "missing": True})
                continue
            frames = _pickle.dumps(self.store[task_id])
            items.append({"task": task_id, "nf": len(frames)})
            payload.extend(frames)
        payload, descs = self.shm.export(payload)
        self.send("data", {"items": items, "shm": descs}, payload)

    def answer(self, results: list[dict[str, Any]], out: list[Any], final: bool) -> None:
        self.send_results(*self.prepare_answer(results, out, final))

    def prepare_answer(self, results: list[dict[str, Any]], out: list[Any], final: bool
                       ) -> tuple[dict[str, Any], list[Any]]:
        """The records of finished units, and their frames. The values of units that ran
        cleanly go in one pickle for them all (``packed``): one pickling per answer, not
        per unit. Large buffers go into shared memory (shm.py)."""
        body: dict[str, Any] = {"results": results, "final": final,
                                "insights": {"working": self.working, "waiting": self.waiting,
                                             "managed": self.managed}}
        if self.profiler.pending:  # the task's stack samples since the last answer
            body["profile"] = self.profiler.take()
        clean = [r for r in out if type(r) is _Values]
        packed: list[Any] = []
        if clean:
            try:
                packed = _pickle.dumps([r.values for r in clean])
            except BaseException:  # some value cannot be pickled: each unit on its own
                clean = []
        payload: list[Any] = list(packed)
        for record, result in zip(results, out, strict=True):
            if type(result) is _Values:
                if clean:
                    record["packed"] = True
                    continue
                result = self._pickle_results(result.values, {}, record["errors"],
                                              result.items, result.mode)
                record["n_erred"] = len(record["errors"])
            if (len(result) == 1 and type(result[0]) is bytes and len(result[0]) <= INLINE_BYTES
                    and not record["n_erred"]):
                record["value"], record["nf"] = result[0], 0  # (1.6) in the header: no frame
            else:
                record["nf"] = len(result)
                payload.extend(result)
        if clean:
            body["packed_nf"] = len(packed)
        if results and all(not r["n_erred"] and "skipped" not in r for r in results):
            body["cols"] = _columns(body.pop("results"))
        payload, descs = self.shm.export(payload)
        if descs:
            body["shm"] = descs
        return body, payload

    def run_batch(self, msg: Message, began: float) -> None:
        """Run a message's units in order; answer in parts (RESULT_FLUSH_S), the last with
        ``final``: the driver counts a message as done only then."""
        frames = msg.payload
        maps = self.maps.attach(frames, msg.body["shm"]) if msg.body.get("shm") else []
        pos = 0
        for spec in msg.body.get("data", ()):  # inputs of dependent tasks, relayed
            nf = spec["nf"]
            self.hold(spec["task"], _pickle.loads(frames[pos:pos + nf]),
                      sum(_nbytes(f) for f in frames[pos:pos + nf]))
            pos += nf
        for fn_spec in msg.body.get("fns", ()):
            nf = fn_spec["nf"]
            self.fns[fn_spec["call"]] = _pickle.loads(frames[pos:pos + nf])
            pos += nf
            while len(self.fns) > FN_CACHE_SIZE:
                self.fns.pop(next(iter(self.fns)))
        results: list[dict[str, Any]] = []
        out: list[Any] = []
        units = _units(msg.body)
        flushed = began
        for i, unit in enumerate(units):
            nf = unit["nf"]
            unit_frames = frames[pos:pos + nf]
            pos += nf
            self.slot.set(unit["task"])
            self.profiler.call, self.profiler.task = unit["call"], unit["task"]
            record, result = self.run_unit(unit, unit_frames)
            results.append(record)
            out.append(result)
            if i + 1 < len(units) and record["end"] - flushed >= RESULT_FLUSH_S:
                self.working += record["end"] - flushed
                flushed = record["end"]
                self.answer(results, out, final=False)
                results, out = [], []
        self.slot.set(0)
        self.profiler.call = self.profiler.task = 0
        now = time.monotonic()
        self.working += now - flushed
        body, payload = self.prepare_answer(results, out, final=True)
        if maps:
            # Let go of the input segments: the driver reuses those nothing here points
            # into any more, and unlinks the others ("pinned": a kept value is a view of one).
            results = out = unit_frames = record = result = []  # noqa: F841 (drop references)
            payload = [f if isinstance(f, bytes) else bytes(f) for f in payload]
            frames.clear()
            body["pinned"] = self.maps.let_go(maps)
        self.send_results(body, payload)

    def hold(self, task_id: int, value: Any, nbytes: int) -> None:
        if task_id not in self.store:
            self.managed += nbytes
        self.store[task_id] = value
        self.sizes[task_id] = nbytes

    def run_unit(self, unit: dict[str, Any], frames: list[Any]) -> tuple[dict[str, Any], list[Any]]:
        start = self._unit_start = time.monotonic()
        mode = unit["mode"]
        errors: list[dict[str, Any]] = []
        excs: dict[int, BaseException] = {}
        values: list[Any] = []
        try:
            items = _loads_paused(frames)
            fn = self.fns.get(unit["call"]) if mode != "call" else None
            if unit.get("fa"):  # the items are (args, kwargs): the function is the call's (1.7)
                call_fn = self.fns[unit["call"]]
                items = [(call_fn, args, kwargs) for args, kwargs in items]
            if unit.get("deps"):  # futures among the arguments: put their values in
                items = [substitute(item, self.store) for item in items]
        except BaseException as exc:  # unpickling the task failed: every item fails with it
            err = SerializationError(
                f"taskscope: the worker could not unpickle task {unit['task']}: "
                f"{type(exc).__name__}: {exc}. Is the function or an argument defined in a "
                f"module the worker cannot import?")
            for i in range(unit["n"]):
                self._record_error(errors, excs, i, err, "<not unpickled>", with_tb=False)
                values.append(None)
            items = ()
        prefix = (self.state,) if self.has_state else ()
        longest, longest_i = -1.0, -1
        skipped = 0
        if mode == "batch":
            # A batch call (pool/batches.py): items are (fn, args, kwargs), run inside the
            # call's context (`fn` here), no worker_state, and the batch stops at its first
            # error, as joblib's own batches do.
            skipped, longest, longest_i = self._run_batch(fn, items, values, errors, excs)
        elif mode != "call" and self.per_item_s < TIME_EACH_ITEM_ABOVE_S:
            # Tiny items: no clock reads around each one (they would cost more than the item);
            # the unit's average stands in for the longest.
            self._run_fast(fn, prefix, items, mode == "star", values, errors, excs)
            if items:
                longest, longest_i = (time.monotonic() - start) / len(items), 0
        else:
            for i, item in enumerate(items):
                t_item = time.monotonic()
                try:
                    if mode == "map":
                        values.append(fn(*prefix, item))
                    elif mode == "star":
                        values.append(fn(*prefix, *item))
                    else:  # "call": the item is (fn, args, kwargs)
                        f, args, kwargs = item
                        values.append(f(*prefix, *args, **kwargs))
                except BaseException as exc:
                    values.append(None)
                    self._record_error(errors, excs, i, exc,
                                       _call_args(item) if mode == "call" else item)
                took = time.monotonic() - t_item
                if took > longest:
                    longest, longest_i = took, i
        end = time.monotonic()
        if items:
            self.per_item_s = (end - start) / len(items)
        record: dict[str, Any] = {"task": unit["task"], "n": unit["n"], "n_erred": len(errors),
                                  "start": start, "end": end, "errors": errors}
        if skipped:
            record["skipped"] = skipped
        top = longest_i >= 0 and (len(self.longest) < LONGEST_KEPT or longest > self.longest[-1][0])
        # A submitted task always says what it ran on: the graph pane shows it (1.4).
        if top or (mode == "call" and longest_i >= 0):
            item = items[longest_i]
            # (a submitted call's arguments: _CallArgs bounds each, without reprlib's cost)
            arg = (_pickle.bounded_repr(item) if mode not in ("call", "batch")
                   else _pickle.bounded_repr(_call_args(item), via=repr))
            if top:
                self.longest = sorted([*self.longest, (longest, arg)], reverse=True)[:LONGEST_KEPT]
            record["longest"] = [longest, arg]
        if mode == "call" and not errors and len(values) == 1:
            return record, self._single_result(unit["task"], values[0], record, errors, excs,
                                               items, keep=bool(unit.get("keep")))
        if not excs:
            return record, _Values(values, items, mode)  # pickled with others (answer)
        result_frames = self._pickle_results(values, excs, errors, items, mode)
        record["n_erred"] = len(errors)  # results that failed to pickle are errors too
        return record, result_frames

    def _run_batch(self, context: Any, items: Any, values: list[Any],
                   errors: list[dict[str, Any]], excs: dict[int, BaseException]) -> tuple[int, float, int]:
        """Run a batch call's unit; returns (items skipped after an error, longest, its index)."""
        longest, longest_i = -1.0, -1
        try:
            ctx = context() if context is not None else contextlib.nullcontext()
            ctx.__enter__()
        except BaseException as exc:  # the context itself failed: so does the whole batch
            if items:
                values.append(None)
                self._record_error(errors, excs, 0, exc, _call_args(items[0]))
            return max(0, len(items) - 1), longest, longest_i
        try:
            if self.per_item_s < TIME_EACH_ITEM_ABOVE_S:
                run_all = getattr(items, "run_all", None)  # a _batch_items.SameCall: map()
                try:
                    values.extend(run_all() if run_all is not None
                                  else (f(*a, **k) for f, a, k in items))
                except BaseException as exc:
                    i = len(values)
                    values.append(None)
                    self._record_error(errors, excs, i, exc, _call_args(items[i]))
                    return len(items) - i - 1, longest, longest_i
                if items:
                    longest, longest_i = (time.monotonic() - self._unit_start) / len(items), 0
                return 0, longest, longest_i
            for i, (f, args, kwargs) in enumerate(items):
                t_item = time.monotonic()
                try:
                    values.append(f(*args, **kwargs))
                except BaseException as exc:
                    values.append(None)
                    self._record_error(errors, excs, i, exc, _call_args(items[i]))
                    return len(items) - i - 1, longest, longest_i
                took = time.monotonic() - t_item
                if took > longest:
                    longest, longest_i = took, i
            return 0, longest, longest_i
        finally:
            try:
                ctx.__exit__(None, None, None)
            except BaseException:
                pass  # restoring the context must not lose the batch's results

    def _run_fast(self, fn: Any, prefix: tuple[Any, ...], items: Any, star: bool,
                  values: list[Any], errors: list[dict[str, Any]],
                  excs: dict[int, BaseException]) -> None:
        """Run every item at C speed (`map` into `list.extend`). When an item raises, the
        items before it are already in `values` and the map iterator has moved past it: record
        the error and extend on from the next item, so each item runs exactly once."""
        if prefix:
            fn = functools.partial(fn, *prefix)
        it = itertools.starmap(fn, items) if star else map(fn, items)
        while True:
            try:
                values.extend(it)
                return
            except BaseException as exc:
                i = len(values)
                values.append(None)
                self._record_error(errors, excs, i, exc, items[i])

    def _single_result(self, task_id: int, value: Any, record: dict[str, Any],
                       errors: list[dict[str, Any]], excs: dict[int, BaseException],
                       items: Any, keep: bool) -> list[Any]:
        """A submitted task's value, pickled alone. With `keep` (Pool.submit) it stays here and
        only a small one goes back at once; without (the executor), it all goes back."""
        try:
            frames = _pickle.dumps(value)
        except BaseException:
            # Not picklable: fail it the usual way (the error names the value).
            frames = self._pickle_results([value], excs, errors, items, "call")
            record["n_erred"] = len(errors)
            return frames
        nbytes = sum(_nbytes(f) for f in frames)
        record["nbytes"] = nbytes
        if not keep:
            return frames
        self.hold(task_id, value, nbytes)
        record["kept"] = True
        return frames if nbytes <= EAGER_RESULT_BYTES else []

    def _record_error(self, errors: list[dict[str, Any]], excs: dict[int, BaseException], index: int,
                      exc: BaseException, item: Any, with_tb: bool = True) -> None:
        tb = "".join(traceback.format_exception(exc)) if with_tb else f"{type(exc).__name__}: {exc}\n"
        excs[index] = exc
        errors.append({"index": index, "exc_type": type(exc).__qualname__, "message": str(exc)[:2000],
                       "traceback": tb[-20_000:], "arg": _pickle.bounded_repr(item)})

    def _pickle_results(self, values: list[Any], excs: dict[int, BaseException],
                        errors: list[dict[str, Any]], items: Any = (), mode: str = "map") -> list[Any]:
        for index, exc in list(excs.items()):
            try:
                # Round trip, not just dumps: an exception whose __init__ wants other arguments
                # than its .args pickles fine but fails to unpickle in the driver, which would
                # fail every item of the chunk with a confusing TypeError.
                _pickle.loads(_pickle.dumps(exc))
            except Exception:
                excs[index] = TaskError(f"{type(exc).__qualname__}: {exc}")
            exc.__traceback__ = None  # tracebacks do not pickle; the text travels in `errors`
        # BaseException here and below: a result whose __reduce__ calls sys.exit() must fail
        # that item (as in the stdlib's worker), not end the worker.
        try:
            return _pickle.dumps((values, excs))
        except BaseException:
            pass
        # Some result cannot be pickled: find which, and make those items fail with a reason.
        for i, value in enumerate(values):
            if i in excs:
                continue
            try:
                _pickle.dumps(value)
            except BaseException as exc:
                values[i] = None
                # No index in the text: `i` is chunk-local; the driver's note names the item.
                err = SerializationError(
                    f"taskscope: the result {_pickle.bounded_repr(value, 120)} "
                    f"cannot be pickled: {type(exc).__name__}: {exc}. Return plain data "
                    f"(numbers, strings, lists, dicts, arrays) instead.")
                item = items[i] if i < len(items) else "?"  # the input, not the bad result
                self._record_error(errors, excs, i, err,
                                   _call_args(item) if mode in ("call", "batch") else item,
                                   with_tb=False)
        return _pickle.dumps((values, excs))


class _Values:
    """The values of a unit that raised nothing, not pickled yet (see `_Worker.answer`)."""

    __slots__ = ("items", "mode", "values")

    def __init__(self, values: list[Any], items: Any, mode: str) -> None:
        self.values, self.items, self.mode = values, items, mode


MAX_ARGS_SHOWN = 6  # a call's arguments shown (then "..."), as reprlib shows a tuple's


class _CallArgs:
    """Shows a submitted call's arguments as they were written: ``1, 2, c=3``."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args, self.kwargs = args, kwargs

    def __repr__(self) -> str:
        parts = [_short_repr(a) for a in self.args[:MAX_ARGS_SHOWN]]
        parts += [f"{k}={_short_repr(v)}" for k, v in
                  itertools.islice(self.kwargs.items(), MAX_ARGS_SHOWN)]
        if len(self.args) + len(self.kwargs) > len(parts):
            parts.append("...")
        return ", ".join(parts)


_PLAIN_REPR = (float, bool, type(None))


def _short_repr(a: Any) -> str:
    """A bounded repr; numbers directly (every submitted task's arguments are shown: reprlib
    took 3.6 µs of a worker's time per task for two ints, this takes 0.6)."""
    if type(a) in _PLAIN_REPR or (type(a) is int and -10**18 < a < 10**18):
        return repr(a)
    return _pickle.bounded_repr(a, 80)


def _columns(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The records of an answer whose units all ran cleanly, as one list per field (1.6):
    the driver decodes nine lists instead of a map per unit (~40% of its decoding, and
    no per-unit objects for the garbage collector to walk). `nf` -1: in the packed values."""
    return {"task": [r["task"] for r in records], "n": [r["n"] for r in records],
            "start": [r["start"] for r in records], "end": [r["end"] for r in records],
            "nf": [-1 if r.get("packed") else r["nf"] for r in records],
            "nbytes": [r.get("nbytes", 0) for r in records],
            "kept": [r.get("kept", False) for r in records],
            "longest": [r.get("longest") for r in records],
            "value": [r.get("value") for r in records]}


def _nbytes(frame: Any) -> int:
    try:
        return memoryview(frame).nbytes
    except TypeError:
        return len(frame)


def _units(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A run message's units: its `cols` (1.7: one list per field) as one map per unit."""
    cols = body.get("cols")
    if cols is None:
        return body["units"]  # type: ignore[no-any-return]
    size = len(cols["task"])
    keep, apart, deps = (cols.get(name) or [None] * size for name in ("keep", "fa", "deps"))
    units = []
    for task, call, mode, n, nf, k, fa, d in zip(cols["task"], cols["call"], cols["mode"],
                                                  cols["n"], cols["nf"], keep, apart, deps,
                                                  strict=True):
        unit = {"task": task, "call": call, "mode": mode, "n": n, "nf": nf}
        if k:
            unit["keep"] = True
        if fa:
            unit["fa"] = True
        if d:
            unit["deps"] = d
        units.append(unit)
    return units


def _call_args(item: Any) -> Any:
    """The arguments of a submitted ``(fn, args, kwargs)`` item (not the function itself)."""
    try:
        _, args, kwargs = item
        return _CallArgs(tuple(args), dict(kwargs))
    except Exception:
        return item


def worker_main(cfg: WorkerConfig) -> None:
    """Entry point of a worker process (the target given to multiprocessing)."""
    global IN_WORKER
    IN_WORKER = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the notebook's interrupt is for the kernel
    _set_parent_death_signal()
    threading.Thread(target=_watchdog, args=(cfg.driver_pid,), daemon=True,
                     name="taskscope-watchdog").start()
    worker = _Worker(cfg)
    code = worker.run()
    worker.profiler.stop()  # its thread's socket is idle before the context goes
    # Exit without running atexit handlers or flushing inherited state; the socket's linger
    # has already delivered the last message.
    _transport._context().destroy(linger=2000)
    os._exit(code)
