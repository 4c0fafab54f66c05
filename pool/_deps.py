"""Futures passed as arguments: found in the caller, stood in for on the wire, filled in on
the worker.

``pool.submit(f, [fut_a, {"b": fut_b}], x=fut_c)`` depends on three tasks. The caller's
arguments are copied only where they hold a future (lists, tuples and dicts, nested), each
future becoming a small `Dep` placeholder; the worker swaps each `Dep` for the value.
"""
from __future__ import annotations

from concurrent.futures import Future
from operator import is_not
from typing import Any

__all__ = ["Dep", "replace_futures", "substitute"]

MAX_DEPTH = 100  # deeper nesting than this is not searched (and is very unusual)


class Dep:
    """Stands for the result of task `task` inside pickled arguments."""

    __slots__ = ("task",)

    def __init__(self, task: int) -> None:
        self.task = task

    def __reduce__(self) -> tuple[Any, ...]:
        return (Dep, (self.task,))

    def __repr__(self) -> str:
        return f"<result of task {self.task}>"


def replace_futures(obj: Any, found: dict[int, Future], owner: Any, depth: int = 0) -> Any:
    """Return `obj` with each of `owner`'s futures replaced by a `Dep`; record them in `found`.

    A future of another pool (or a plain `concurrent.futures.Future`) is an error: its
    result is not on this pool's workers.
    """
    if isinstance(obj, Future):
        task_id = getattr(obj, "task_id", None)
        if task_id is None or getattr(obj, "owner", None) is not owner:
            raise ValueError(
                "taskscope: an argument is a Future of another pool (or not a taskscope "
                "Future); pass its value instead: `fut.result()`")
        found[task_id] = obj
        return Dep(task_id)
    if depth >= MAX_DEPTH:
        return obj
    if type(obj) in (list, tuple):
        items = [replace_futures(x, found, owner, depth + 1) for x in obj]
        if not any(map(is_not, items, obj)):  # (map, not a generator: once per submit)
            return obj
        return items if type(obj) is list else tuple(items)
    if type(obj) is dict:
        new = {k: replace_futures(v, found, owner, depth + 1) for k, v in obj.items()}
        if all(new[k] is obj[k] for k in obj):
            return obj
        return new
    return obj


def substitute(obj: Any, values: dict[int, Any], depth: int = 0) -> Any:
    """Worker side: replace each `Dep` in `obj` by its value from `values`."""
    if isinstance(obj, Dep):
        return values[obj.task]
    if depth >= MAX_DEPTH:
        return obj
    if type(obj) in (list, tuple):
        items = [substitute(x, values, depth + 1) for x in obj]
        return items if type(obj) is list else tuple(items)
    if type(obj) is dict:
        return {k: substitute(v, values, depth + 1) for k, v in obj.items()}
    return obj
