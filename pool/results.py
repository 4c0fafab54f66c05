"""Results: a part of the driver (mixed into `Driver`; runs on the driver thread only).

::

    worker "results" (in parts; the last `final`) -> handle_results: unpickle the packed
        values once; the clean units' task.finished as one `tasks` event (publish_finished,
        coalesce.py); then each unit -> finish_task: counts, sizer timing, errors with their
        remote tracebacks (and their own task.finished), the caller's CallResults or the
        task graph (finish_task, graph_task_done)
    fail_task / end_cancelled: a task ending without results (death, bad input, cancel)

Split from scheduler.py, which keeps the loop, commands, placing and shutdown.
"""
from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Any

from . import _pickle
from .calls import Call, Task
from .errors import SerializationError, chain_remote

if TYPE_CHECKING:
    from .lifecycle import WorkerRecord

__all__ = ["TaskResults"]

MAX_ERROR_EVENTS_PER_CALL = 1000  # beyond this, errors are counted but not each published
ENDED = ("released", "erred", "cancelled")  # a map or batch chunk's last states

# A unit of a results message, as handle_results hands it on: (task, its frames, its packed
# values or None, start, end, nbytes, kept, longest, its record: None when it came in the
# answer's columns, i.e. ran cleanly).
_Unit = tuple[Task, list[Any], Any, float, float, int, bool, Any, "dict[str, Any] | None"]


class TaskResults:
    """The driver's result-handling methods (see the module docstring)."""

    # provided by Driver: events, shm, graph, calls, _call_error_events, ...
    events: Any
    history: Any
    _by_identity: dict[bytes, Any]
    shm: Any
    _call_error_events: dict[int, int]

    def handle_results(self, w: WorkerRecord, body: dict[str, Any], payload: list[Any]) -> None:
        if "profile" in body:  # stack samples (profiler.py): merged before the results they
            self.history.profiles.add(body["profile"], self.calls)  # came with wake a caller
        insights = body.get("insights", {})
        w.insights["working"] = float(insights.get("working", w.insights["working"]))
        w.insights["waiting"] = float(insights.get("waiting", w.insights["waiting"]))
        if body.get("final", True) and w.messages:  # (a long message is answered in parts)
            w.messages.popleft()
            if w.segments:
                self.shm.release(w.segments.popleft(), body.get("pinned", ()))
            self.note_running(w)  # the next message (if any) starts running now
        pos = body.get("packed_nf", 0)
        packed: Any = iter(())
        if pos:  # the values of every clean unit of this answer, in one pickle
            try:
                packed = iter(_pickle.loads(payload[:pos]))
            except BaseException as exc:  # (as in finish_task) each unit then fails with it
                packed = _Unloadable(exc)
        # One _Unit row per result we still wait for (others' calls were cancelled).
        units: list[_Unit] = []
        cols = body.get("cols")
        if cols is not None:  # every unit of the answer ran cleanly: one list per field (1.6)
            for tid, nf, start, end, nbytes, kept, longest, value in zip(
                    cols["task"], cols["nf"], cols["start"], cols["end"], cols["nbytes"],
                    cols["kept"], cols["longest"], cols["value"], strict=True):
                if nf < 0:
                    frames, values = [], next(packed, None)
                elif value is not None:  # its one pickle frame, inline (1.6)
                    frames, values = [value], None
                else:
                    frames, values = payload[pos:pos + nf], None
                    pos += nf
                task = w.inflight.pop(tid, None)
                if task is not None:
                    units.append((task, frames, values, start, end, nbytes, kept, longest, None))
        for rec in body.get("results", ()):
            if rec.get("packed"):
                frames, values = [], next(packed, None)
            elif "value" in rec:
                frames, values = [rec["value"]], None
            else:
                nf = rec["nf"]
                frames, values = payload[pos:pos + nf], None
                pos += nf
            task = w.inflight.pop(rec["task"], None)
            if task is not None:
                units.append((task, frames, values, rec["start"], rec["end"],
                              int(rec.get("nbytes", 0)), bool(rec.get("kept")),
                              rec.get("longest"), rec))
        # The clean units' task.finished first, as one `tasks` event per call of the answer
        # (not one emit per task); what their results cause (dependents queued, releases,
        # call.ended) and the erred units' own events follow.
        self.publish_finished(w, units)
        clean: dict[int, tuple[Call, list[Any]]] = {}  # map chunks to put, per call (put_clean)
        for unit in units:
            self.finish_task(w, unit, clean)
        self.put_clean(clean)

    def publish_finished(self, w: WorkerRecord, units: list[_Unit]) -> None:
        """task.finished of the units that ended cleanly (`_clean`: those finish_task then
        takes its short paths for), per call as the columns of one `tasks` event."""
        groups: dict[tuple[int, str], tuple[list[Any], ...]] = {}
        for task, _frames, values, start, end, nbytes, _kept, longest, rec in units:
            submit = task.call.mode == "call"  # (Task.is_submit, read once)
            if not _clean(task, rec, values) or (not submit and task.state in ENDED):
                continue  # (an ended chunk: finish_task says so, and nothing is counted twice)
            group = (task.call.id, "memory" if submit else "released")
            cols = groups.get(group)
            if cols is None:
                cols = groups[group] = ([], [], [], [], [], [])
            cols[0].append(task.id)
            cols[1].append(task.n)
            cols[2].append(start)
            cols[3].append(end)
            cols[4].append(nbytes if submit else 0)
            cols[5].append(longest)
        for (call_id, state), (ids, ns, starts, ends, nbytes, longest) in groups.items():
            self.events.emit_tasks(
                "task.finished", call_id,
                {"worker": w.id, "state": state, "was": "processing", "n_erred": 0}, ids, ns,
                {"start": starts, "end": ends, "nbytes": nbytes, "longest": longest},
                dict(w.insights))

    def handle_profile(self, identity: bytes, msg: Any) -> None:
        """Stack samples a worker's sampler sent on its own socket (``w<id>p``) while a long
        unit runs; anything else claiming to be one is dropped."""
        w = self._by_identity.get(identity[:-1]) if identity.endswith(b"p") else None
        if w is not None and msg.src == f"worker:{w.id}:profile":
            self.history.profiles.add(msg.body.get("profile"), self.calls)

    def finish_task(self, w: WorkerRecord, unit: _Unit,
                    clean: dict[int, tuple[Call, list[Any]]]) -> None:
        """A unit's result: its own frames, or its `values` unpickled with others (packed).
        A clean map chunk's values wait in `clean` (put_clean)."""
        task, frames, values, start, end, nbytes, kept, longest, rec = unit
        call = task.call
        if call.mode == "call" and (rec is None or not rec.get("n_erred")):
            # A submitted task that succeeded (its task.finished is published already:
            # publish_finished): the most common unit there is, so its path is flat.
            call.processing -= 1
            w.tasks_done += 1
            call.sizer.observe(1, end - start)
            call.outstanding -= 1
            call.done += 1
            self.graph_task_done(task, w, nbytes, kept, frames)
            self.maybe_end_call(call)
            return
        if not self.ends_once(task, "released"):
            return
        call.processing -= task.n
        w.tasks_done += task.n
        call.sizer.observe(task.n - (int(rec.get("skipped", 0)) if rec is not None else 0),
                          end - start)
        if _clean(task, rec, values):  # (its task.finished is published: publish_finished)
            self.finish_clean_chunk(task, values, clean)
            return
        self.put_clean(clean)  # (the clean chunks before this one first, as they came)
        if rec is None:  # a clean unit's columns taking the long way (a batch call's chunk,
            rec = {"start": start, "end": end, "longest": longest}  # or unloadable values)
        call.outstanding -= 1
        if rec.get("n_erred") and not task.is_submit:
            self.keep_failed_inputs(task, rec.get("errors", ()))
        if not task.is_submit:
            task.frames = ()
        # A batch call's worker stops at a batch's first error: the items after it did not run.
        skipped = int(rec.get("skipped", 0))
        try:
            if isinstance(values, _Unloadable):
                raise values.exc
            if values is not None:
                excs: dict[int, BaseException] = {}
            else:
                values, excs = _pickle.loads(frames)
        except BaseException as exc:  # SystemExit too: a result's __reduce__ may call
            # sys.exit(); escaping here, it would end the driver thread with this task unresolved
            # One error object per item (each gets its own note below), saying what failed.
            message = (f"taskscope: the results of task {task.id} could not be unpickled in the "
                       f"caller: {type(exc).__name__}: {exc}")
            values = [None] * task.n
            excs = {i: SerializationError(message) for i in range(task.n)}
            for err in excs.values():
                err.__context__ = exc
            rec["errors"] = [{"index": i, "exc_type": "SerializationError", "message": message,
                              "traceback": "", "arg": ""} for i in range(task.n)]
            skipped = 0
        errors = {e["index"]: e for e in rec.get("errors", ())}
        chain_remote(excs, errors, call, task.index0, f"worker {w.id} (pid {w.pid})")
        n_erred = len(excs)
        if task.is_submit and task.retries > 0:  # a submitted task that may try again
            call.outstanding += 1
            self.requeue(task, retry=True)
            return
        call.erred += n_erred
        call.done += task.n - n_erred - skipped
        call.cancelled += skipped
        self.events.emit("task.finished", call=call.id, task=task.id, worker=w.id,
                         n=task.n - skipped, n_erred=n_erred, start=rec["start"], end=rec["end"],
                         state="released", nbytes=sum(_pickle.nbytes(f) for f in frames),
                         insights=dict(w.insights), longest=rec.get("longest"), was="processing")
        if skipped:
            self.events.emit("task.cancelled", call=call.id, task=task.id, n=skipped,
                             was="processing")
        sent = self._call_error_events.get(call.id, 0)
        for index in sorted(errors)[: max(0, MAX_ERROR_EVENTS_PER_CALL - sent)]:
            info = errors[index]
            self.events.emit("task.erred", call=call.id, task=task.id, worker=w.id, pid=w.pid,
                             index=task.index0 + index, exc_type=info["exc_type"],
                             message=info["message"], traceback=info["traceback"],
                             arg=info["arg"])
        self._call_error_events[call.id] = sent + len(errors)
        if task.is_submit:
            self.fail_graph_task(task, excs[0])
        elif call.results is not None:
            call.results.put(task.index0, values, excs)
            if excs and call.fail_fast:
                self.stop_call(call, "erred")
        self.maybe_end_call(call)

    def finish_clean_chunk(self, task: Task, values: list[Any],
                           clean: dict[int, tuple[Call, list[Any]]]) -> None:
        """A map chunk whose items all succeeded, its values unpickled with the others of
        the answer: what finish_task does for it, without the error handling (map's
        chunksize=1 makes this once per item). Its values join the answer's others of its
        call in `clean`, put together: one lock and one wake-up of the reader per call and
        answer, not per chunk."""
        call = task.call
        call.outstanding -= 1
        task.frames = ()
        call.done += task.n
        entry = clean.get(call.id)
        if entry is None:
            entry = clean[call.id] = (call, [])
        entry[1].append((task.index0, values, _NO_ERRORS))

    def put_clean(self, clean: dict[int, tuple[Call, list[Any]]]) -> None:
        """Put the clean chunks waiting in `clean` into their calls' results, then see
        whether those calls ended (after their last chunk is put, as one by one)."""
        for call, chunks in clean.values():
            if call.results is not None:
                call.results.put_many(chunks)
            self.maybe_end_call(call)
        clean.clear()

    def keep_failed_inputs(self, task: Task, errors: Any) -> None:
        """Keep the inputs of failed items (a few per call) for `FailedTask.rerun`."""
        if len(task.call.failed_inputs) >= 100 or not task.frames:
            return
        try:
            items = _pickle.loads(task.frames)  # our own frames: trusted
        except Exception:
            return
        for err in errors:
            task.call.failed_inputs[task.index0 + err["index"]] = items[err["index"]]

    def fail_task(self, task: Task, exc: BaseException, w: WorkerRecord | None, arg: str = "") -> None:
        """End a whole task with one error (its worker died, an input failed, or it could not
        be sent)."""
        was = task.state
        if not self.ends_once(task, "erred"):
            return
        call = task.call
        call.outstanding -= 1
        call.erred += task.n
        now = time.monotonic()
        self.events.emit("task.finished", call=call.id, task=task.id,
                         worker=w.id if w else -1, n=task.n, n_erred=task.n,
                         start=now, end=now, state="erred", nbytes=0, insights={}, was=was)
        self.events.emit("task.erred", call=call.id, task=task.id, worker=w.id if w else -1,
                         pid=w.pid if w else None, index=task.index0,
                         exc_type=type(exc).__name__, message=str(exc),
                         traceback=f"{type(exc).__name__}: {exc}\n", arg=arg)
        if task.is_submit:
            self.fail_graph_task(task, exc)
        else:
            task.frames = ()
            if call.results is not None:
                call.results.put(task.index0, [None] * task.n, dict.fromkeys(range(task.n), exc))
                if call.fail_fast:
                    self.stop_call(call, "erred")
        self.maybe_end_call(call)

    def end_cancelled(self, task: Task) -> None:
        was = task.state
        if not self.ends_once(task, "cancelled"):
            return
        task.state = "cancelled"  # (a submitted task too: its dependents are cancelled by it)
        call = task.call
        call.outstanding -= 1
        call.cancelled += task.n
        self.events.emit("task.cancelled", call=call.id, task=task.id, n=task.n, was=was)
        self.maybe_end_call(call)

    def ends_once(self, task: Task, state: str) -> bool:
        """Mark a map or batch chunk ended; False if it had ended already. Each ends exactly
        once: its call's counts, and when the call ends, rest on that (a second ending would
        end the call before another chunk came back, a hole in its results). A bug, then:
        said loudly, and the second ending ignored. (A submitted task may run again after it
        ended, to recompute a lost result: graph.py keeps its states.)"""
        if task.is_submit:
            return True
        if task.state in ENDED:
            warnings.warn(f"taskscope: internal error: task {task.id} of call {task.call.id} "
                          f"ended twice ({task.state}, then {state}); the second is ignored. "
                          "Please report this", RuntimeWarning, stacklevel=2)
            return False
        task.state = state
        return True


def _clean(task: Task, rec: dict[str, Any] | None, values: Any) -> bool:
    """A unit that ended without an error, taken by finish_task's short paths: a submitted
    task, or a map chunk whose values came unpickled with the others of its answer. (`rec`
    None: it came in an answer's columns, which only clean units travel in.)"""
    if rec is not None and rec.get("n_erred"):
        return False
    return task.is_submit or (values is not None and not isinstance(values, _Unloadable)
                              and not (rec is not None and rec.get("skipped"))
                              and task.call.mode != "batch")


_NO_ERRORS: dict[int, BaseException] = {}  # (shared: a clean chunk's, never written to)


class _Unloadable:
    """Packed values that could not be unpickled: every unit of the answer fails with it."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> _Unloadable:
        return self
