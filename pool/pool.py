"""`Pool`: the public face of the process pool.

Callers' threads validate and pickle what they can (so bad input raises here, before any work
starts), then hand records to the driver thread (scheduler.py) and wait on result buffers or
Futures. Nothing here touches a socket.
"""
from __future__ import annotations

import atexit
import itertools
import multiprocessing
import os
import secrets
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any

from . import _hooks, _pickle, history, registry
from ._deps import replace_futures
from .calls import Call, CallResults, Task
from .callsite import describe_function, find_callsite
from .chunking import ChunkSizer
from .errors import PoolClosedError, SerializationError, TaskCancelledError
from .faults import check_timeout, parse_memory_limit
from .futures import TaskFuture
from .scheduler import Driver
from .signing import new_key

# How long a blocking map runs before its call_started hooks (a notebook's progress bar) are
# run; see Pool._collect.
HOOK_DELAY_S = 0.02

__all__ = ["Pool", "default_start_method"]

# Argument types that cannot hold a Future: submit skips searching them for dependencies.
_PLAIN = frozenset({int, float, complex, str, bytes, bool, type(None)})
_NO_DEPS: tuple[()] = ()


def _plain(values: Any) -> bool:
    """Whether every one of `values` is a plain number, text or bytes (holds no Future)."""
    for v in values:
        if type(v) not in _PLAIN:
            return False
    return True

_live_pools: weakref.WeakSet[Pool] = weakref.WeakSet()
_pool_numbers = itertools.count(1)


def default_start_method() -> str:
    """forkserver where available (safe in a threaded kernel, fast to start), else spawn."""
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _check_callable(fn: Any, api: str) -> None:
    if not callable(fn):
        raise TypeError(f"taskscope: {api}() needs a callable as its first argument, got "
                        f"{type(fn).__name__} {_pickle.bounded_repr(fn, 80)}; pass the function "
                        "itself, e.g. pool.map(f, items), not pool.map(f(x), items)")


def _check_iterable(iterable: Any, api: str) -> Iterator[Any]:
    try:
        return iter(iterable)
    except TypeError:
        raise TypeError(f"taskscope: {api}() needs an iterable of inputs, got "
                        f"{type(iterable).__name__} {_pickle.bounded_repr(iterable, 80)}; wrap a "
                        "single input in a list: [x]") from None


def _length(iterable: Any) -> int | None:
    try:
        return len(iterable)
    except Exception:
        return None


class Pool:
    """A pool of worker processes that publishes what it does, for taskscope's dashboards.

    Parameters
    ----------
    n_workers:
        worker processes; default: the CPUs this process may use.
    start_method:
        ``"forkserver"`` (default on Linux: safe in a threaded kernel), ``"spawn"`` or ``"fork"``.
    initializer, initargs:
        ``initializer(*initargs)`` runs once in each worker before its first task.
    worker_state:
        if given, each worker gets its own copy, passed as the first argument of the
        initializer and of every task function (MPIRE's ``worker_state``): keep an expensive
        model or connection per worker.
    max_tasks_per_worker:
        replace a worker after it ran this many items (leaky libraries).
    name:
        shown in dashboards and the sidebar; default ``pool-N``.
    memory_limit:
        per worker, in bytes or as text (``"500MB"``, ``"2GiB"``): a worker whose resident
        memory goes over it (checked ten times a second) is killed and replaced, and the task
        it ran fails with `WorkerMemoryError` naming the limit and the memory seen.
    profile:
        sample each running task's stack 100 times a second (a statistical profiler, as
        Dask's): `profile()` and the dashboard's profile pane then show where the time
        went, per call and function.

    cluster:
        run on a Dask cluster instead of local processes: a ``distributed.Client``, a cluster
        object (``LocalCluster()``...) or a scheduler address; see `DaskPool`
        (``pip install 'taskscope[dask]'``).

    Examples
    --------
    >>> with Pool(2) as pool:
    ...     pool.map(abs, [-1, -2, 3])
    [1, 2, 3]
    """

    def __new__(cls, *args: Any, cluster: Any = None, **kwargs: Any) -> Pool:
        if cluster is not None and cls is Pool:
            # The Pool API on a Dask cluster; distributed is imported only now.
            from .dask_pool import DaskPool

            return super().__new__(DaskPool)
        return super().__new__(cls)

    def __init__(self, n_workers: int | None = None, *, start_method: str | None = None,
                 initializer: Callable[..., Any] | None = None, initargs: Iterable[Any] = (),
                 worker_state: Any = None, max_tasks_per_worker: int | None = None,
                 name: str | None = None, memory_limit: int | str | None = None,
                 profile: bool = False, cluster: Any = None) -> None:
        if cluster is not None:  # a subclass of Pool given cluster=: only Pool routes it
            raise TypeError(f"taskscope: {type(self).__name__} does not take cluster=; use "
                            "taskscope.Pool(cluster=...)")
        if n_workers is None:
            n_workers = _usable_cpus()
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"taskscope: n_workers must be an int >= 1, not {n_workers!r}; "
                             "leave it out to use one worker per usable CPU")
        method = start_method or default_start_method()
        if method not in multiprocessing.get_all_start_methods():
            raise ValueError(f"taskscope: start_method {method!r} is not available here; choose "
                             f"one of {multiprocessing.get_all_start_methods()}")
        if initializer is not None and not callable(initializer):
            raise TypeError(f"taskscope: initializer must be callable, got "
                            f"{type(initializer).__name__}")
        if max_tasks_per_worker is not None and (not isinstance(max_tasks_per_worker, int)
                                                 or max_tasks_per_worker < 1):
            raise ValueError("taskscope: max_tasks_per_worker must be an int >= 1 or None, not "
                             f"{max_tasks_per_worker!r}")
        memory_limit = parse_memory_limit(memory_limit)
        if not isinstance(profile, bool):
            raise TypeError(f"taskscope: profile must be True or False, not {profile!r}")
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            # Workers fork from a server that has already imported the worker's modules.
            context.set_forkserver_preload(["taskscope.pool.worker"])
        setup_objects = (initializer, tuple(initargs), worker_state, worker_state is not None)
        try:
            setup: bytes | tuple[Any, ...] = _pickle.dumps_for(
                setup_objects, "the initializer, initargs or worker_state", oob=False)[0]
        except SerializationError:
            # As with the stdlib's pool, initargs may hold multiprocessing's own objects (Queue,
            # Lock, Value...), which pickle only while a process is being spawned (and are
            # inherited under fork): hand the objects themselves to the worker's Process.
            # Anything else unpicklable is refused here, not as a crash of the driver thread.
            if not _pickle.picklable_but_for_multiprocessing(setup_objects):
                raise
            setup = setup_objects
        self.name = name or f"pool-{next(_pool_numbers)}"
        self.id = secrets.token_hex(8)
        self.n_workers = n_workers
        self.start_method = method
        self._key = new_key()
        self._call_ids = itertools.count(1)
        self._submit_calls: dict[Any, Call] = {}
        # Futures by the keys callers chose; by task id (weakly: a plain dict, each entry
        # removed by its Future's __del__) for every submitted task.
        self._futures: weakref.WeakValueDictionary[str, TaskFuture] = weakref.WeakValueDictionary()
        self._refs: dict[int, weakref.ref[TaskFuture]] = {}
        self._future_lock = threading.RLock()  # every Future's lock (futures.py says why)
        self._fn_calls: dict[tuple[str, int], tuple[weakref.ref[Any], Call]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.errors: list[Any] = []  # failed tasks of this pool, newest last (see FailedTask)
        self._driver = Driver(pool_id=self.id, name=self.name, n_workers=n_workers,
                              context=context, setup=setup,
                              max_tasks_per_worker=max_tasks_per_worker,
                              memory_limit=memory_limit, key=self._key, profile=profile)
        self._driver.pool_ref = weakref.ref(self)
        if method == "fork" and threading.current_thread() is threading.main_thread():
            # Fork the first workers here, as the stdlib's pool does, not in the driver thread:
            # a fork racing with the caller's subprocess.Popen makes the worker inherit the
            # Popen's pipes, and the Popen then waits for the worker to exit (a deadlock).
            # Main thread only: a worker's parent-death signal follows the forking thread.
            try:
                self._driver.launch_workers()
            except BaseException:
                self._driver.teardown()
                raise
        self._driver.start()
        _live_pools.add(self)
        registry.register(self)  # taskscope-pool-<id>.json in the Jupyter runtime dir
        _hooks.run("pool_created", self)

    # ---------------------------------------------------------------- introspection
    def __repr__(self) -> str:
        state = "closed" if self._closed else self._driver.status
        return f"<taskscope.Pool {self.name!r} workers={self.n_workers} {state}>"

    def connection_info(self) -> dict[str, Any]:
        """What a subscriber in another thread or process needs: endpoint and key.

        Treat the key as a secret: it lets its holder read this pool's events.
        """
        return {"id": self.id, "name": self.name, "pid": os.getpid(),
                "events": self._driver.endpoints.events_endpoint,
                "control": self._driver.endpoints.tasks_endpoint, "key": self._key.hex()}

    @property
    def status(self) -> str:
        return "closed" if self._closed else self._driver.status

    # ---------------------------------------------------------------- map family
    def _start_call(self, api: str, fn: Any, iterable: Any, chunksize: int | None, *,
                    mode: str, ordered: bool, fail_fast: bool = True,
                    timeout: float | None = None,
                    announce: bool = True) -> tuple[Call, CallResults]:
        _check_callable(fn, api)
        source = _check_iterable(iterable, api)
        timeout = check_timeout(timeout)
        if timeout is not None and chunksize is None:
            chunksize = 1  # the timeout is then each item's own
        self._check_open()
        total = _length(iterable)
        info = describe_function(fn)
        fn_frames = _pickle.dumps_for(fn, f"the function {info['fn']!r}")
        info["callsite"] = find_callsite()
        results = CallResults(ordered=ordered, on_drained=self._driver.wake)
        call = Call(next(self._call_ids), api, mode, info, fn_frames=fn_frames, source=source,
                    total=total, sizer=ChunkSizer(self.n_workers, total, chunksize),
                    results=results, fail_fast=fail_fast, timeout=timeout)
        self._driver.command("call", call)
        if announce:
            _hooks.run("call_started", self, call)
        return call, results

    def _collect(self, call: Call, results: CallResults) -> list[Any]:
        """The results of a call started with ``announce=False``, as one list."""
        out: list[Any] = []
        first: tuple[int, BaseException] | None = None
        try:
            # The call_started hooks (a notebook's progress bar) run once the call got going:
            # making a widget holds the GIL for a millisecond or two, and in a call's first
            # milliseconds each chunk's round trip (chunks grow from a few items) waits on the
            # driver thread; later, every worker has its next chunk queued.
            if _hooks.registered("call_started"):
                results.wait_finished(HOOK_DELAY_S)
                _hooks.run("call_started", self, call)
            for index0, values, excs in results.iter_chunks():
                if excs and (first is None or index0 + min(excs) < first[0]):
                    first = (index0 + min(excs), excs[min(excs)])
                out.extend(values)
        except KeyboardInterrupt:
            self._driver.command("cancel_call", call.id, "interrupted")
            raise
        if first is not None:
            self._record_failure(call, first[0], first[1])
            raise first[1]
        return out

    def _iterate(self, call: Call, results: CallResults, deadline: float | None = None) -> Iterator[Any]:
        finished = False
        try:
            for index0, values, excs in results.iter_chunks(deadline):
                for i, value in enumerate(values):
                    if i in excs:
                        self._record_failure(call, index0 + i, excs[i])
                        raise excs[i]
                    yield value
            finished = True
        except KeyboardInterrupt:
            self._driver.command("cancel_call", call.id, "interrupted")
            raise
        finally:
            if not finished and not self._driver.closed.is_set():
                self._driver.command("cancel_call", call.id, "cancelled")

    def map(self, fn: Callable[..., Any], iterable: Iterable[Any], *,
            chunksize: int | None = None, timeout: float | None = None) -> list[Any]:
        """``[fn(x) for x in iterable]``, in parallel, in order.

        If an item raises, the call's queued items are cancelled, the running ones finish,
        and the first failing item's exception is raised here, with the worker's traceback
        as its ``__cause__``. ``chunksize=None`` adapts chunks to the measured task time.

        ``timeout`` (seconds) limits how long each chunk may run: one past it is stopped by
        killing its worker (which is replaced) and its items fail with `TaskTimeoutError` (a
        `TimeoutError`). With a timeout and no ``chunksize``, items are sent one at a time,
        so the timeout is each item's; with ``chunksize=k`` it covers each chunk of k items.

        Interrupting the call (Ctrl-C, the notebook's stop button) raises KeyboardInterrupt
        at once, cancels the call's queued items and kills the workers running its items
        (they are replaced); the pool is usable for the next call.
        """
        return self._collect(*self._start_call("map", fn, iterable, chunksize, mode="map",
                                                ordered=True, timeout=timeout, announce=False))

    def starmap(self, fn: Callable[..., Any], iterable: Iterable[Iterable[Any]], *,
                chunksize: int | None = None, timeout: float | None = None) -> list[Any]:
        """``[fn(*args) for args in iterable]``, in parallel, in order (``timeout`` as `map`)."""
        return self._collect(*self._start_call("starmap", fn, iterable, chunksize, mode="star",
                                                ordered=True, timeout=timeout, announce=False))

    def imap(self, fn: Callable[..., Any], iterable: Iterable[Any], *,
             chunksize: int | None = None, timeout: float | None = None) -> Iterator[Any]:
        """Lazy, ordered ``map``: results as they are ready; a lazy input is read as needed
        (``timeout`` as `map`)."""
        return self._iterate(*self._start_call("imap", fn, iterable, chunksize, mode="map",
                                                ordered=True, timeout=timeout))

    def imap_unordered(self, fn: Callable[..., Any], iterable: Iterable[Any], *,
                       chunksize: int | None = None,
                       timeout: float | None = None) -> Iterator[Any]:
        """Like `imap`, but results come in the order they finish (``timeout`` as `map`)."""
        return self._iterate(*self._start_call("imap_unordered", fn, iterable, chunksize,
                                                mode="map", ordered=False, timeout=timeout))

    # ---------------------------------------------------------------- submit family
    def _submit_call(self, fn: Any, api: str = "submit") -> Call:
        """The call that groups `fn`'s submits; remembered per function object (weakly),
        as describing a function took a tenth of a submit."""
        known = self._fn_calls.get((api, id(fn)))
        if known is not None and known[0]() is fn:
            return known[1]
        call = self._describe_submit_call(fn, api)
        try:
            ref = weakref.ref(fn)
        except TypeError:  # a callable object without weak references: describe it each time
            return call
        if len(self._fn_calls) >= 1000:  # functions made per submit (closures) come and go
            self._fn_calls.clear()
        self._fn_calls[(api, id(fn))] = (ref, call)
        return call

    def _describe_submit_call(self, fn: Any, api: str) -> Call:
        info = describe_function(fn)
        key = (api, info["module"], info["fn"], info["file"], info["line"])
        with self._lock:
            call = self._submit_calls.get(key)
            if call is None:
                info["callsite"] = find_callsite()
                call = Call(next(self._call_ids), api, "call", info, fn_frames=None,
                            source=None, total=0, sizer=ChunkSizer(self.n_workers, None),
                            results=None, fail_fast=False)
                self._submit_calls[key] = call
        return call

    def _pickle_submit(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                       call: Call) -> tuple[Sequence[Any], bool]:
        """A one-item unit, as the worker runs every unit: a list of items; and whether the
        function travels apart (then the call's `fn_frames` hold it, sent once per worker)."""
        fast = _pickle.dumps_plain_args(fn, args, kwargs)
        if fast is not None:
            if call.fn_frames is None:  # (a reference: the same for every such submit)
                call.fn_frames = _pickle.dumps(fn)
            return fast, True
        try:
            return _pickle.dumps([(fn, args, kwargs)]), False
        except Exception:
            pass  # find the culprit, to name it in the error
        _pickle.dumps_for(fn, f"the function {describe_function(fn)['fn']!r}")
        for i, arg in enumerate(args):
            _pickle.dumps_for(arg, f"argument {i}")
        for name, arg in kwargs.items():
            _pickle.dumps_for(arg, f"keyword argument {name!r}")
        return _pickle.dumps_for([(fn, args, kwargs)], "the task"), False

    def submit(self, fn: Callable[..., Any], /, *args: Any, key: str | None = None,
               priority: int = 0, retries: int = 0, timeout: float | None = None,
               **kwargs: Any) -> TaskFuture:
        """Run ``fn(*args, **kwargs)`` in a worker; returns a `TaskFuture`.

        Futures among the arguments (also inside lists, tuples and dicts) are dependencies:
        the task runs once they are done, on the worker holding most of their bytes, and gets
        their values. The result stays on the worker ("memory") until `result()` fetches it or
        a dependent needs it, and is freed when neither the Future nor a pending dependent
        refers to it.

        Parameters
        ----------
        key:
            a name for the task (default ``"<function>-<id>"``); `get_future` finds it.
        priority:
            higher runs first among ready tasks.
        retries:
            run again this many times if it raises or its worker dies (also when killed for
            its timeout or the memory limit).
        timeout:
            seconds the task may run; past it, its worker is killed (and replaced) and the
            Future fails with `TaskTimeoutError` (a `TimeoutError`).

        Interrupting ``result()`` or `gather` (Ctrl-C, the notebook's stop button) raises
        KeyboardInterrupt at once and cancels the tasks waited for: queued ones are cancelled,
        running ones stopped by killing their workers (which are replaced).
        """
        return self._submit(fn, args, kwargs, key=key, priority=priority, retries=retries,
                            timeout=timeout)

    def _submit(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *,
                key: str | None = None, priority: int = 0, retries: int = 0,
                keep: bool = True, timeout: float | None = None) -> TaskFuture:
        _check_callable(fn, "submit")
        self._check_open()
        if timeout is not None:
            timeout = check_timeout(timeout)
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"taskscope: retries must be an int >= 0, not {retries!r}")
        if not isinstance(priority, int):
            raise TypeError(f"taskscope: priority must be an int, not {priority!r}")
        deps: dict[int, Future] = {}
        if keep and not (_plain(args) and (not kwargs or _plain(kwargs.values()))):
            args = replace_futures(args, deps, self)  # (plain numbers and text hold none)
            if kwargs:
                kwargs = replace_futures(kwargs, deps, self)
        call = self._submit_call(fn)
        frames, apart = self._pickle_submit(fn, args, kwargs, call)
        driver = self._driver
        task_id = driver.new_task_id()
        fn_name = call.info["fn"]
        # A default key ("<function>-<task id>", found by get_future through _refs) is made
        # only when read.
        key = "" if key is None else str(key)
        future = _InterruptibleFuture(self, task_id, key, fn_name)
        if key:
            self._futures[key] = future
        ref = weakref.ref(future)
        task = Task(task_id, call, 0, 1, frames, future=ref, retries=retries, key=key,
                    priority=priority, keep=keep, timeout=timeout, apart=apart)
        self._refs[task_id] = ref
        future._release_to = driver  # its __del__ tells the driver (TaskFuture.__del__)
        driver.command("submit", task, list(deps) if deps else _NO_DEPS)
        return future

    def get_future(self, key: str) -> TaskFuture | None:
        """The Future of the task named `key`, while something still refers to it."""
        future = self._futures.get(key)
        if future is None:  # a default key, "<function>-<task id>"
            _, dash, tail = str(key).rpartition("-")
            ref = self._refs.get(int(tail)) if dash and tail.isdigit() else None
            future = ref() if ref is not None else None
            if future is not None and future.key != key:
                future = None
        return future

    def gather(self, futures: Iterable[Future]) -> list[Any]:
        """The results of `futures`, in order: fetched from the workers all at once."""
        futures = list(futures)
        for fut in futures:
            if isinstance(fut, TaskFuture):
                done = fut.done()  # ask for every remote value first, then wait for each
                if done:
                    fut._ask_fetch()
        try:
            return [fut.result() for fut in futures]
        except KeyboardInterrupt:
            self._interrupted(futures)
            raise

    def _interrupted(self, futures: Iterable[Future]) -> None:
        """The caller was interrupted waiting for `futures`: stop their tasks (queued ones
        are cancelled, running ones' workers killed and replaced); the pool shows
        "interrupted" until new work arrives."""
        ids = [f.task_id for f in futures
               if isinstance(f, TaskFuture) and f.owner is self and not f.done()]
        if not self._driver.closed.is_set():
            try:
                self._driver.command("interrupt_tasks", ids)
            except PoolClosedError:
                pass

    def apply(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` in a worker, waiting for its result."""
        future = self.submit(fn, *args, **kwargs)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    # ---------------------------------------------------------------- failures
    def _record_failure(self, call: Call, index: int, exc: BaseException) -> None:
        if isinstance(exc, TaskCancelledError):
            return
        from .failures import FailedTask  # small and rarely needed

        self.errors.append(FailedTask(self, call, index, exc))
        del self.errors[:-100]

    # ---------------------------------------------------------------- lifecycle
    def _check_open(self) -> None:
        if self._closed:
            raise PoolClosedError(f"taskscope: pool {self.name!r} is shut down; create a new "
                                  "Pool (or use `with Pool() as pool:` around the work)")
        if self._driver.broken is not None:
            raise PoolClosedError(f"taskscope: pool {self.name!r} is broken: "
                                  f"{self._driver.broken}") from self._driver.broken

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the workers once the submitted work is done.

        Parameters
        ----------
        wait:
            block until every worker has exited.
        cancel_futures:
            cancel the work not yet started instead of running it.
        """
        with self._lock:
            first = not self._closed
            self._closed = True
        if first and not self._driver.closed.is_set():
            try:
                self._driver.command("shutdown", cancel_futures)
            except PoolClosedError:
                pass
            _hooks.run("pool_closing", self)
        if first:
            registry.unregister(self)
        if wait and self._driver.is_alive() and threading.current_thread() is not self._driver:
            self._driver.join()

    close = shutdown

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=True)

    # ---------------------------------------------------------------- the story so far
    def task_stream(self) -> list[dict[str, Any]]:
        """The kept task-stream records, oldest first, as a list of dicts (like Dask's
        ``get_task_stream().data``): one per chunk of items a worker ran, with ``worker``,
        ``function`` (its name), ``call`` (id), ``start`` and ``end`` (``time.monotonic()``
        seconds), ``items``, ``erred`` (items that raised) and ``state`` (``released``,
        ``memory`` or ``erred``); a task's input fetched from another worker adds a
        ``transfer`` record on the receiving worker, with ``nbytes`` and ``items`` 0. The
        newest 100,000 are kept; `[]` before any task ran.
        Works on a closed pool too."""
        return self._driver.history.records()

    def profile(self, call: Any = None) -> dict[str, Any]:
        """Where the workers' time went: the statistical profile of one call (its id), of
        every call of one function (the function or its name), or of all calls (None),
        merged over workers (like Dask's ``Client.profile``). Needs ``Pool(profile=True)``.

        Returns a tree of plain dicts, ``{"name", "file", "line", "count", "children"}``: a
        node per function on a path of calls (``line`` is where the function starts),
        ``count`` the stack samples (one per 10 ms) in which it was running or calling, the
        heaviest child first. The root (``name`` "all", or the call or function asked for)
        counts every sample. Works on a closed pool too."""
        if not getattr(self._driver, "profile", False):
            remedy = ("a Dask cluster's workers profile themselves: see its client.profile()"
                      if hasattr(self, "client") else
                      "create it with Pool(profile=True) to sample their stacks")
            raise ValueError(f"taskscope: pool {self.name!r} does not profile its tasks; {remedy}")
        return self._driver.history.profiles.profile(call, self.name, dict(self._driver.calls))

    def _story(self, rings: bool = True) -> dict[str, Any]:
        """The snapshot a subscriber joining now would get, with its history (history.py):
        what reports and the dashboards of closed pools are built from."""
        return history.story(self._driver, rings)

    def report(self, path: str | os.PathLike[str]) -> Any:
        """Write one self-contained HTML file of this pool's story so far (the dashboard
        with every kept task-stream record, zoomable; it opens from ``file://`` with no
        server or network); returns its path (a `pathlib.Path`). Works on a closed pool.
        ``with taskscope.report(path):`` reports every pool used in a block."""
        from taskscope.reports import write_report  # no Jupyter imports there either

        return write_report(path, [self])

    def dashboard(self, **options: Any) -> Any:
        """The live dashboard widget of this pool (needs Jupyter: ``pip install taskscope``)."""
        from taskscope.widgets import Dashboard  # Jupyter-side, imported only when asked for

        return Dashboard.for_pool(self, **options)


class _InterruptibleFuture(TaskFuture):
    """The Future `Pool.submit` returns: interrupting ``result()`` also stops its task."""

    def result(self, timeout: float | None = None) -> Any:
        try:
            return super().result(timeout)
        except KeyboardInterrupt:
            self.owner._interrupted([self])
            raise


@atexit.register
def _shutdown_live_pools() -> None:
    # Runs before multiprocessing's own exit handler (registered earlier), which would
    # otherwise wait forever on workers that wait for us.
    for pool in list(_live_pools):
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        except Exception:
            pass

