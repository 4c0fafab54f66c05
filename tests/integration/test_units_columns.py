"""Run messages in the 1.7 shapes on real workers: units as columns, and a submitted
function that travels apart, once per worker and call, sent again after the worker dropped
it from its cache of the newest calls' functions (docs/protocol.md, "Units as columns")."""
from __future__ import annotations

import operator

from taskscope.pool import Pool
from taskscope.pool.worker import FN_CACHE_SIZE

T = 60  # seconds: a result that takes longer means a hang


def add(a: int, b: int = 0) -> int:
    return a + b


def test_submitted_functions_travel_apart_and_come_back_after_eviction() -> None:
    with Pool(1, name="units-apart") as pool:
        driver = pool._driver
        first = [pool.submit(add, i, b=1) for i in range(50)]
        assert [f.result(timeout=T) for f in first] == list(range(1, 51))
        call_id = next(c.id for c in driver.calls.values() if c.info["fn"] == "add")
        [w] = [w for w in driver.workers.values() if not w.exited]
        assert call_id in w.fns_sent  # sent once, for all 50
        # More map calls than the worker keeps functions of: `add`'s is dropped there...
        for k in range(FN_CACHE_SIZE + 2):
            assert pool.map(operator.neg, [k, k + 1]) == [-k, -k - 1]
        assert call_id not in w.fns_sent and len(w.fns_sent) == FN_CACHE_SIZE
        # ...and sent again with the next submit of it, not assumed held.
        again = [pool.submit(add, i, 2) for i in range(10)]
        assert [f.result(timeout=T) for f in again] == [i + 2 for i in range(10)]
        assert call_id in w.fns_sent


def test_mixed_units_in_one_message_keep_their_own_fields() -> None:
    # Functions apart and not (a closure pickles by value), inputs (a tree's adds), a key of
    # the user's and one that fails: each unit's fields reach the worker as its own.
    def local(x: int) -> int:
        return x * 10

    with Pool(2, name="units-mixed") as pool:
        leaves = [pool.submit(add, i, 1) for i in range(40)]
        sums = [pool.submit(add, leaves[i], leaves[i + 1]) for i in range(0, 40, 2)]
        closures = [pool.submit(local, i) for i in range(20)]
        keyed = pool.submit(add, 5, key="five")
        bad = pool.submit(add, "x", 1)
        assert [s.result(timeout=T) for s in sums] == [2 * i + 3 for i in range(0, 40, 2)]
        assert [c.result(timeout=T) for c in closures] == [i * 10 for i in range(20)]
        assert keyed.result(timeout=T) == 5 and pool.get_future("five") is keyed
        assert isinstance(bad.exception(timeout=T), TypeError)
        graph = pool._driver.graph  # (held Futures keep their tasks' records)
        assert graph[leaves[0].task_id].apart and graph[sums[0].task_id].apart
        assert not graph[closures[0].task_id].apart
