"""`Pool(cluster=...)`: the taskscope Pool API on the workers of a Dask cluster.

::

    Pool(cluster=client | LocalCluster() | "tcp://host:8786")
      -> DaskPool: validates and pickles in the caller's thread (bad input raises here)
      -> DaskDriver thread: chunks of map calls and submitted calls as Dask tasks, over the
         Client's own connection; publishes the same taskscope events as a local pool, so
         pool.dashboard(), %taskscope, the sidebar and the pop-out page show it unchanged

`distributed` is imported only here, only when ``cluster=`` is given. The cluster belongs to
the caller: `shutdown` leaves it running and closes only a Client the pool made itself.
What Dask cannot do, the pool says: a task that is already running cannot be stopped (Dask
runs it in a worker thread, and a thread cannot be interrupted), so cancelling or
interrupting stops a chunk at its next item and drops the running item's result.
"""
from __future__ import annotations

import concurrent.futures
import secrets
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any

from . import _hooks, _pickle, registry
from .calls import Call, CallResults
from .callsite import describe_function, find_callsite
from .chunking import ChunkSizer
from .dask_connect import CONNECT_TIMEOUT_S, resolve_client
from .dask_driver import DaskDriver
from .dask_mapcalls import announces
from .dask_remote import run_call
from .dask_tasks import DaskTask, DaskTaskFuture
from .errors import PoolClosedError, SerializationError
from .pool import Pool, _check_callable, _check_iterable, _length, _live_pools, _pool_numbers
from .signing import new_key

__all__ = ["RUNNING_NOTE", "DaskPool"]

RUNNING_NOTE = ("taskscope: Dask cannot stop a task that is already running: the items "
                "running when this happened run to their end in their worker threads (their "
                "results are dropped); the rest of the call was cancelled")
# Parameters of the local Pool that have no meaning on a Dask cluster, and what to do instead.
_LOCAL_ONLY = {
    "n_workers": "scale the cluster instead (cluster.scale(n), or LocalCluster(n_workers=n))",
    "start_method": "Dask's nanny starts the worker processes",
    "initializer": "use a Dask WorkerPlugin (client.register_plugin) to set up each worker",
    "initargs": "use a Dask WorkerPlugin (client.register_plugin) to set up each worker",
    "worker_state": "use a Dask WorkerPlugin, or keep the state in a module of the workers",
    "max_tasks_per_worker": "Dask does not recycle worker processes by task count",
    "memory_limit": "give the cluster its limit: LocalCluster(memory_limit=...) or "
                    "`dask worker --memory-limit`",
    "profile": "Dask's workers profile themselves: see client.profile() or the Dask "
               "dashboard's /profile page",
}


class DaskPool(Pool):
    """A `Pool` whose workers are a Dask cluster's; made by ``Pool(cluster=...)``.

    Parameters
    ----------
    cluster:
        a ``distributed.Client`` (kept open at shutdown), a cluster object such as
        ``LocalCluster()``, or a scheduler address (for these two the pool makes its own
        Client and closes it at shutdown). The cluster always keeps running.
    name:
        shown in dashboards and the sidebar; default ``pool-N``.
    connect_timeout:
        seconds to wait for a scheduler given by address or cluster object.

    Results of `submit` stay on the Dask workers until `result()` fetches them; the
    dependencies of a submitted task (its arguments that are this pool's Futures) go from
    worker to worker as Dask moves data, never through the caller.
    """

    def __init__(self, n_workers: Any = None, *, cluster: Any, name: str | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT_S, **local_only: Any) -> None:
        if n_workers is not None:
            local_only["n_workers"] = n_workers
        for param in local_only:
            if param not in _LOCAL_ONLY:
                raise TypeError(f"taskscope: Pool() got an unexpected keyword argument {param!r}")
            if local_only[param] not in (None, ()) and local_only[param] is not False:
                raise ValueError(f"taskscope: {param}= does not apply to Pool(cluster=...): "
                                 f"{_LOCAL_ONLY[param]}")
        self.client, owns_client = resolve_client(cluster, connect_timeout)
        self.name = name or f"pool-{next(_pool_numbers)}"
        self.id = secrets.token_hex(8)
        self.start_method = "dask"
        self._key = new_key()
        self._call_ids = iter(range(1, 1 << 62))
        self._submit_calls: dict[Any, Call] = {}
        self._fn_calls: dict[tuple[str, int], tuple[weakref.ref[Any], Call]] = {}  # Pool's
        self._refs: dict[int, weakref.ref[Any]] = {}  # Pool.get_future's default keys
        self._future_lock = threading.RLock()  # every Future's lock (futures.py says why)
        self._futures: weakref.WeakValueDictionary[str, DaskTaskFuture] = \
            weakref.WeakValueDictionary()
        self._lock = threading.Lock()
        self._closed = False
        self.errors: list[Any] = []
        try:
            self._driver: Any = DaskDriver(pool_id=self.id, name=self.name, client=self.client,
                                           owns_client=owns_client, key=self._key)
        except BaseException:
            if owns_client:
                self.client.close()
            raise
        self._driver.begin()  # the workers (and threads) are known before the first chunk
        self._driver.start()
        _live_pools.add(self)
        registry.register(self)
        _hooks.run("pool_created", self)

    # ---------------------------------------------------------------- introspection
    def __repr__(self) -> str:
        return (f"<taskscope.Pool {self.name!r} on Dask {self.scheduler_address} "
                f"workers={self.n_workers} {self.status}>")

    @property
    def n_workers(self) -> int:  # type: ignore[override]
        """Dask workers in the cluster now (it may scale)."""
        return self._driver.workers.count

    @property
    def scheduler_address(self) -> str:
        return str(self.client.scheduler.address)

    @property
    def status(self) -> str:
        return "closed" if self._closed else self._driver.status

    def _check_open(self) -> None:
        if self._driver.broken is not None:
            raise PoolClosedError(f"taskscope: pool {self.name!r} is broken: "
                                  f"{self._driver.broken}") from self._driver.broken
        if self._closed or self._driver.closed.is_set():
            raise PoolClosedError(f"taskscope: pool {self.name!r} is shut down; create a new "
                                  "Pool(cluster=...) (the Dask cluster itself is still running)")

    # ---------------------------------------------------------------- map family
    def _start_call(self, api: str, fn: Any, iterable: Any, chunksize: int | None, *,
                    mode: str, ordered: bool, fail_fast: bool = True,
                    timeout: float | None = None,
                    announce: bool = True) -> tuple[Call, CallResults]:
        _check_callable(fn, api)
        source = _check_iterable(iterable, api)
        if timeout is not None:
            raise ValueError("taskscope: timeout= is not available on Pool(cluster=...): Dask "
                             "cannot stop a running task; check the time inside the function, "
                             "or use the local Pool, which kills the worker past its timeout")
        self._check_open()
        total = _length(iterable)
        info = describe_function(fn)
        # One frame (no out-of-band buffers): Dask carries it as one bytes argument.
        fn_frames = _pickle.dumps_for(fn, f"the function {info['fn']!r}", oob=False)
        info["callsite"] = find_callsite()
        results = CallResults(ordered=ordered, on_drained=self._driver.wake)
        sizer = ChunkSizer(max(1, self._driver.workers.threads), total, chunksize)
        call = Call(next(self._call_ids), api, mode, info, fn_frames=fn_frames, source=source,
                    total=total, sizer=sizer, results=results, fail_fast=fail_fast)
        self._driver.command("call", call)
        if announce:
            _hooks.run("call_started", self, call)
        return call, results

    def _collect(self, call: Call, results: CallResults) -> list[Any]:
        try:
            return super()._collect(call, results)
        except KeyboardInterrupt as exc:
            exc.add_note(RUNNING_NOTE)
            raise

    def _iterate(self, call: Call, results: CallResults,
                 deadline: float | None = None) -> Iterator[Any]:
        try:
            yield from super()._iterate(call, results, deadline)
        except KeyboardInterrupt as exc:
            exc.add_note(RUNNING_NOTE)
            raise

    # ---------------------------------------------------------------- submit family
    def submit(self, fn: Callable[..., Any], /, *args: Any, key: str | None = None,
               priority: int = 0, retries: int = 0, timeout: float | None = None,
               **kwargs: Any) -> DaskTaskFuture:
        """Run ``fn(*args, **kwargs)`` on a Dask worker; returns a `DaskTaskFuture`.

        This pool's Futures among the arguments (also inside lists, tuples and dicts) are
        dependencies: Dask runs the task once they are done and moves their values between
        its workers. ``retries`` is Dask's (a task whose worker dies is re-run by Dask in
        any case); ``priority`` is Dask's too (higher runs first).
        """
        _check_callable(fn, "submit")
        self._check_open()
        if timeout is not None:
            raise ValueError("taskscope: timeout= is not available on Pool(cluster=...): Dask "
                             "cannot stop a running task")
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"taskscope: retries must be an int >= 0, not {retries!r}")
        if not isinstance(priority, int):
            raise TypeError(f"taskscope: priority must be an int, not {priority!r}")
        deps: dict[int, Any] = {}
        args = _to_dask(args, deps, self)
        kwargs = _to_dask(kwargs, deps, self)
        info = describe_function(fn)
        blob = _pickle.dumps_for(fn, f"the function {info['fn']!r}", oob=False)[0]
        call = self._submit_call(fn)
        task_id = self._driver.new_task_id()
        key = str(key) if key is not None else f"{info['fn']}-{task_id}"
        task = DaskTask(task_id, call, 0, [])
        task.key = key
        task.arg = _call_repr(args, kwargs)
        task.dep_ids = list(deps)
        try:
            # A key of its own in the cluster (Dask would merge equal keys of other clients).
            dask_future = self.client.submit(run_call, blob, args, kwargs, self._driver.topic,
                                             task_id, announces(call.sizer, 1),
                                             key=f"{key}-{self.id[:8]}", pure=False,
                                             priority=priority, retries=retries or None)
        except Exception as exc:
            _name_unpicklable(args, kwargs, exc)
            raise
        task.future = dask_future
        future = DaskTaskFuture(self, task_id, key, dask_future)
        task.tfuture = weakref.ref(future)
        weakref.finalize(future, _release, weakref.ref(self._driver), task_id)
        self._futures[key] = future
        self._driver.command("submitted", task)
        return future

    def gather(self, futures: Iterable[Future]) -> list[Any]:
        """The results of `futures`, in order; values still on Dask workers are fetched in
        one round trip."""
        futures = list(futures)
        try:
            concurrent.futures.wait(futures)
            remote = [f for f in futures if isinstance(f, DaskTaskFuture) and f._remote
                      and Future.exception(f) is None]  # (the base: it does not fetch)
            if remote:
                values = self.client.gather([f.dask_future for f in remote])
                for f, value in zip(remote, values, strict=True):
                    with f._condition:
                        f._result, f._remote = value, False
            return [f.result() for f in futures]
        except KeyboardInterrupt:
            self._interrupted(futures)
            raise

    def _interrupted(self, futures: Iterable[Future]) -> None:
        ids = [f.task_id for f in futures
               if isinstance(f, DaskTaskFuture) and f.owner is self and not f.done()]
        if ids and not self._driver.closed.is_set():
            try:
                self._driver.command("cancel_tasks", ids, "interrupted")
            except PoolClosedError:
                pass

    # ---------------------------------------------------------------- lifecycle
    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop using the cluster once the submitted work is done; the cluster keeps running.

        Parameters
        ----------
        wait:
            block until the pool's work ended (and its own Client, if it made one, closed).
        cancel_futures:
            cancel the work not yet finished instead (a task already running on a Dask
            worker runs to its end; its result is dropped).
        """
        super().shutdown(wait, cancel_futures=cancel_futures)  # the same steps; other meaning

    close = shutdown


def _release(driver_ref: Any, task_id: int) -> None:
    """The caller dropped a Future: its result may go (its Dask future goes with it)."""
    driver = driver_ref()
    if driver is not None and not driver.closed.is_set():
        driver._commands.append(("release", task_id))


def _to_dask(obj: Any, found: dict[int, Any], owner: DaskPool, depth: int = 0) -> Any:
    """`obj` with each of `owner`'s Futures replaced by its Dask future (Dask resolves those
    inside lists, tuples and dicts on the worker); record them in `found`."""
    if isinstance(obj, Future):
        if not isinstance(obj, DaskTaskFuture) or obj.owner is not owner:
            raise ValueError(
                "taskscope: an argument is a Future of another pool (or not a taskscope "
                "Future); pass its value instead: `fut.result()`")
        found[obj.task_id] = obj
        return obj.dask_future
    if depth >= 100:
        return obj
    if type(obj) in (list, tuple):
        items = [_to_dask(x, found, owner, depth + 1) for x in obj]
        if all(a is b for a, b in zip(items, obj, strict=True)):
            return obj
        return items if type(obj) is list else tuple(items)
    if type(obj) is dict:
        new = {k: _to_dask(v, found, owner, depth + 1) for k, v in obj.items()}
        return obj if all(new[k] is obj[k] for k in obj) else new
    return obj


def _call_repr(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    parts = [_pickle.bounded_repr(a, 80) for a in args]
    parts += [f"{k}={_pickle.bounded_repr(v, 80)}" for k, v in kwargs.items()]
    return _pickle.bounded_repr(", ".join(parts), 200).strip("'")


def _name_unpicklable(args: tuple[Any, ...], kwargs: dict[str, Any], exc: Exception) -> None:
    """Dask could not serialize the task: raise a SerializationError naming the argument."""
    for name, arg in [*((f"argument {i}", a) for i, a in enumerate(args)),
                      *((f"keyword argument {k!r}", v) for k, v in kwargs.items())]:
        _pickle.dumps_for(arg, name)  # raises a SerializationError naming it
    if "serialize" in str(exc).lower():
        raise SerializationError(f"taskscope: Dask could not serialize the task: {exc}") from exc
