"""SameCall: a batch of one function with positional arguments, sent as a column."""
from __future__ import annotations

import operator

import pytest

from taskscope.pool import _pickle
from taskscope.pool._batch_items import SameCall, same_call


def boom(x: int) -> int:
    if x == 2:
        raise ValueError(x)
    return x


def test_one_argument_each_is_a_flat_column_that_reads_as_the_triples() -> None:
    items = [(abs, (-i,), {}) for i in range(5)]
    batch = same_call(items)
    assert isinstance(batch, SameCall) and batch.single and batch.arglist == [0, -1, -2, -3, -4]
    assert list(batch) == items and batch[3] == items[3] and batch[1:3] == items[1:3]
    assert len(batch) == 5 and list(batch.run_all()) == [0, 1, 2, 3, 4]


def test_several_arguments_run_through_starmap() -> None:
    items = [(operator.add, (i, 10), {}) for i in range(4)]
    batch = same_call(items)
    assert batch is not None and not batch.single
    assert list(batch.run_all()) == [10, 11, 12, 13] and list(batch) == items


@pytest.mark.parametrize("items", [
    [(abs, (1,), {}), (abs, (2,), {"x": 1})],            # keyword arguments
    [(abs, (1,), {}), (len, ((),), {})],                 # two functions
    [(abs, (1,), {}), (abs, [2], {})],                   # arguments not a tuple
    [(abs, (1,)), (abs, (2,))],                          # not triples
    [(abs, (1,), {})],                                   # one item: nothing to gain
    [1, 2],
])
def test_other_shapes_stay_triples(items: list) -> None:
    assert same_call(items) is None


def test_equal_but_distinct_functions_are_not_merged() -> None:
    class Same:
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = object.__hash__

        def __call__(self, x: int) -> int:
            return x

    assert same_call([(Same(), (1,), {}), (Same(), (2,), {})]) is None


def test_it_pickles_as_a_column_and_stops_at_the_first_error() -> None:
    batch = same_call([(boom, (i,), {}) for i in range(5)])
    back = _pickle.loads(_pickle.dumps(batch))
    assert isinstance(back, SameCall) and back.arglist == [0, 1, 2, 3, 4]
    values: list[int] = []
    with pytest.raises(ValueError):
        values.extend(back.run_all())
    assert values == [0, 1]  # what ran before the error is kept, nothing after it ran
