"""CallResults, the caller's side of a map: an ended call is read whole, or raises.

After a failure a hole is expected (queued chunks are cancelled, also ones before the
failed item): the reader raises the failure. A hole without any failure is an internal
error, raised loudly, also at the end of the call (nothing after the hole to show it).
"""
from __future__ import annotations

import pytest

from taskscope.pool.calls import CallResults
from taskscope.pool.errors import TaskscopeError


def read_all(results: CallResults) -> list[object]:
    out: list[object] = []
    for _, values, excs in results.iter_chunks():
        if excs:
            raise excs[min(excs)]
        out.extend(values)
    return out


@pytest.mark.parametrize("ordered", [True, False])
def test_a_whole_call_is_read_whole(ordered: bool) -> None:
    r = CallResults(ordered)
    r.put(2, [2, 3], {})
    r.put(0, [0, 1], {})
    r.finish(items=4)
    assert sorted(read_all(r)) == [0, 1, 2, 3]


def test_a_hole_before_a_failure_raises_the_failure() -> None:
    r = CallResults(ordered=True)
    r.put(0, [0, 1], {})
    r.put(5, [None], {0: ValueError("item 5")})  # items 2-4: cancelled after the failure
    r.put(6, [6], {})
    r.finish(items=7)
    with pytest.raises(ValueError, match="item 5"):
        read_all(r)


@pytest.mark.parametrize("ordered", [True, False])
def test_a_hole_at_the_end_without_a_failure_is_an_internal_error(ordered: bool) -> None:
    r = CallResults(ordered)
    r.put(0, [0, 1], {})
    r.finish(items=5)  # items 2-4 never came, and nothing failed
    with pytest.raises(TaskscopeError, match="internal error"):
        read_all(r)


def test_a_hole_in_the_middle_without_a_failure_is_an_internal_error() -> None:
    r = CallResults(ordered=True)
    r.put(0, [0], {})
    r.put(3, [3], {})
    r.finish(items=4)
    with pytest.raises(TaskscopeError, match="internal error"):
        read_all(r)
