"""A batch call's items in the shape most batches have: one function, positional arguments.

joblib's ``delayed(f)(x) for x in xs`` makes ``(f, (x,), {})`` triples, and a worker spends
~200 ns a task unpickling and calling them (a tuple and a dict each, the call through
``f(*a, **k)``) -- more than ``x*x`` itself. `SameCall` sends the function once and the
arguments as a column; the worker runs them through ``map`` (``starmap`` for several
arguments) at C speed, ~50 ns a task. It is still a sequence of triples, so every other path
(errors, the longest item, results that fail to pickle) reads it as the list it replaces.
"""
from __future__ import annotations

import itertools
import operator
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["SameCall", "same_call"]

_first, _second, _third = map(operator.itemgetter, range(3))


class SameCall(Sequence):
    """``[(fn, args, {}) for args in arglist]``; with `single`, `arglist` holds each task's
    one argument itself, not a 1-tuple."""

    __slots__ = ("arglist", "fn", "single")

    def __init__(self, fn: Any, arglist: list[Any], single: bool) -> None:
        self.fn = fn
        self.arglist = arglist
        self.single = single

    def __reduce__(self) -> Any:
        return SameCall, (self.fn, self.arglist, self.single)

    def __len__(self) -> int:
        return len(self.arglist)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        args = self.arglist[i]
        return self.fn, ((args,) if self.single else args), {}

    def __iter__(self) -> Iterator[tuple[Any, tuple[Any, ...], dict[str, Any]]]:
        return (self[i] for i in range(len(self)))

    def run_all(self) -> Iterator[Any]:
        """Each task's result in turn (lazily: the caller stops at the first error)."""
        if self.single:
            return map(self.fn, self.arglist)
        return itertools.starmap(self.fn, self.arglist)


def same_call(items: list[tuple[Any, tuple[Any, ...], dict[str, Any]]]) -> SameCall | None:
    """`items` as a `SameCall` if they all call the same object (identity, not ==) with
    positional arguments only; else None."""
    if len(items) < 2:
        return None
    try:
        # One C-speed pass per check and no object per item: zip(*items) would make an
        # iterator (a GC-tracked object) per item, and the caller's collector runs over them.
        fn = items[0][0]
        if any(map(_third, items)) \
                or not all(map(operator.is_, map(_first, items), itertools.repeat(fn))):
            return None
        arglist = list(map(_second, items))
        if set(map(type, arglist)) != {tuple}:
            return None
    except Exception:  # not (fn, args, kwargs) triples: they are pickled as they are
        return None
    if set(map(len, arglist)) == {1}:
        return SameCall(fn, list(map(_first, arglist)), single=True)
    return SameCall(fn, arglist, single=False)
