"""Adaptive chunk sizes (pool/chunking.py): probe, growth, target, tail split, fixed, byte cap."""
from __future__ import annotations

import math

import pytest

from taskscope.pool.chunking import (
    FIRST_CHUNK,
    GROWTH,
    MAX_CHUNK_BYTES,
    MAX_CHUNK_ITEMS,
    MAX_FIXED_CHUNK_ITEMS,
    MIN_CHUNK_S,
    SHORT_CALL_MIN_S,
    SHORT_CALL_S,
    TAIL_CHUNKS_PER_WORKER,
    TAIL_SPLIT,
    TARGET_CHUNK_S,
    ChunkSizer,
    ItemTimes,
)


def test_probe_chunks_until_a_timing_arrives() -> None:
    sizer = ChunkSizer(2, None)
    assert [sizer.next_size(None) for _ in range(5)] == [FIRST_CHUNK] * 5


def test_growth_is_geometric_and_bounded_by_the_target() -> None:
    sizer = ChunkSizer(2, None)
    assert sizer.next_size(None) == FIRST_CHUNK
    per_item = 1e-6  # tiny tasks: the target would be 25,000 items
    sizes = []
    for _ in range(6):
        sizer.observe(sizer.last, sizer.last * per_item)
        sizes.append(sizer.next_size(None))
    want = int(TARGET_CHUNK_S / per_item)
    assert sizes[0] == FIRST_CHUNK * GROWTH
    for prev, cur in zip([FIRST_CHUNK, *sizes[:-1]], sizes, strict=True):
        assert cur <= prev * GROWTH
    assert sizes[-1] == want  # reached, and not overshot
    assert all(s <= want for s in sizes)


def test_slow_items_go_one_by_one() -> None:
    sizer = ChunkSizer(2, None)
    sizer.next_size(None)
    sizer.observe(FIRST_CHUNK, FIRST_CHUNK * 0.5)  # half a second per item
    assert sizer.next_size(None) == 1
    assert sizer.next_size(None) == 1


def test_chunks_shrink_at_once_when_items_get_slower() -> None:
    sizer = ChunkSizer(2, None)
    sizer.next_size(None)
    sizer.observe(4, 4e-6)
    sizer.next_size(None)
    sizer.observe(32, 32 * 0.01)  # 10 ms per item now
    assert sizer.next_size(None) <= math.ceil(TARGET_CHUNK_S / (0.5 * (1e-6 + 0.01)))


def test_zero_items_or_zero_time_observations_are_harmless() -> None:
    sizer = ChunkSizer(2, None)
    sizer.observe(0, 1.0)
    assert sizer.per_item_s is None
    sizer.observe(10, 0.0)  # a clock that did not move
    assert sizer.per_item_s is not None and sizer.per_item_s > 0
    assert 1 <= sizer.next_size(None) <= MAX_CHUNK_ITEMS


@pytest.mark.parametrize("n_workers,remaining", [(2, 40), (2, 9), (4, 30), (1, 7)])
def test_tail_is_split_across_workers(n_workers: int, remaining: int) -> None:
    sizer = ChunkSizer(n_workers, None)  # (a known total adds the share floor: below)
    # Items of MIN_CHUNK_S each: the tail floor is one item, so only the split applies.
    sizer.observe(1, MIN_CHUNK_S)
    sizer.last = 10_000
    size = sizer.next_size(remaining)
    assert size == max(1, math.ceil(remaining / (n_workers * TAIL_SPLIT)))


@pytest.mark.parametrize("remaining,expected", [
    (50_000, 12_500),  # a big rest: split as usual (12,500 items = 12.5 ms of work)
    (5_000, 2_000),    # split would give 1,250 items (1.25 ms): kept at 2 ms of work
    (1_500, 1_500),    # less than 2 ms left: the rest goes as one chunk
    (1, 1),
])
def test_tail_split_keeps_min_chunk_s_of_work(remaining: int, expected: int) -> None:
    sizer = ChunkSizer(2, None)
    sizer.observe(1000, 1000 * 1e-6)  # 1 us items: MIN_CHUNK_S is 2,000 of them
    sizer.last = 100_000
    assert int(MIN_CHUNK_S / 1e-6) == 2_000
    assert sizer.next_size(remaining) == expected


@pytest.mark.parametrize("remaining,expected", [
    (19_000, 149),  # a big rest: a round takes half of it (19,000 / (64 x 2))
    (3_000, 47),    # half would be 24 a chunk, below a share of 20,000 / (64 x 8) = 39: the
                    # last round splits all of it, 64 chunks of 47
    (20, 2),        # 20 items for 64 workers: chunks of MIN_CHUNK_S (2 items), not 20 at once
])
def test_tail_keeps_a_share_of_each_workers_part_of_the_call(remaining: int, expected: int) -> None:
    # 64 workers on 20,000 items of 1 ms: without the share the geometric tail went down to
    # hundreds of one-item chunks, each a driver round trip.
    sizer = ChunkSizer(64, 20_000)
    sizer.observe(10, 10 * 1e-3)
    sizer.last = 10_000
    assert 20_000 // (64 * TAIL_CHUNKS_PER_WORKER) == 39
    assert sizer.next_size(remaining) == min(expected, int(TARGET_CHUNK_S / 1e-3))


def _whole_call(sizer: ChunkSizer, total: int, per_item: float) -> list[int]:
    """The chunk sizes of a whole call whose every chunk is timed at `per_item` an item."""
    sizes, remaining = [], total
    while remaining:
        size = min(sizer.next_size(remaining), remaining)
        sizes.append(size)
        remaining -= size
        sizer.observe(size, size * per_item)
    return sizes


def test_the_tail_goes_in_rounds_of_one_equal_chunk_per_worker() -> None:
    # Measured, 64 workers x 20,000 sleeps of 1 ms: sizes recomputed per chunk gave 288-344
    # items a worker; in rounds every worker gets one chunk of each round.
    sizer = ChunkSizer(64, 20_000)
    sizer.seed(1e-3)
    sizes = _whole_call(sizer, 20_000, 1e-3)
    assert len(sizes) % 64 == 0 and len(sizes) <= 6 * 64
    rounds = [sizes[i:i + 64] for i in range(0, len(sizes), 64)]
    assert all(max(r) - min(r) <= 1 for r in rounds)  # the last one too: no short chunk
    assert max(sum(col) for col in zip(*rounds)) - min(sum(col) for col in zip(*rounds)) <= 2


def test_a_short_call_goes_in_three_chunks_a_worker() -> None:
    # 64 workers x 20,000 sleeps of 1 ms (each worker's part ~0.31 s): the two chunks every
    # worker holds from the start, then one last round of all the rest, equally. Measured:
    # 320 -> 192 chunks, each chunk's end a ~3-5 ms pause in a worker on this loaded machine.
    sizer = ChunkSizer(64, 20_000)
    sizer.seed(1e-3)
    remaining, sizes = 20_000, []
    for _ in range(128):  # handed out before any of them is timed
        sizes.append(sizer.next_size(remaining))
        remaining -= sizes[-1]
    assert set(sizes) == {79}  # a quarter of a worker's part, twice
    sizer.observe(79, 79 * 1e-3)
    sizes += _whole_call(sizer, remaining, 1e-3)
    assert len(sizes) == 3 * 64
    assert set(sizes[128:]) == {154, 155} and sizer.round_last  # the other half, equally


def test_a_short_calls_first_two_chunks_pair_and_then_wait_for_its_timing() -> None:
    sizer = ChunkSizer(64, 20_000)
    sizer.seed(1e-3)
    first = sizer.next_size(20_000, "w0")
    assert first == 79 and sizer.pairs(first)  # its second chunk goes in the same message
    second = sizer.next_size(20_000 - first, "w0")
    assert sizer.may_take("w0", has_work=True, held=first)
    assert not sizer.may_take("w0", has_work=True, held=first + second)  # both: it waits
    assert sizer.may_take("w0", has_work=False, held=0)  # idle: never kept waiting
    for i in range(1, 64):
        assert sizer.pairs(sizer.next_size(20_000 - 2 * 79 * i, f"w{i}"))
        sizer.next_size(20_000 - 2 * 79 * i - 79, f"w{i}")
    assert not sizer.pairs(79)  # two for every worker handed out: no more pairs
    sizer.observe(79, 79 * 1e-3)  # the call's own first timing
    assert sizer.may_take("w0", has_work=True, held=second) and not sizer.pairs(79)
    assert sizer.next_size(20_000 - 128 * 79, "w0") == 155 and sizer.round_last


def test_a_first_call_or_a_joblib_one_keeps_its_rounds() -> None:
    # Not seeded: the same 64 x 20,000 items of 1 ms, timed by the call itself, go in rounds.
    sizer = ChunkSizer(64, 20_000)
    sizer.observe(79, 79 * 1e-3)
    sizer.last = 79
    assert not sizer.short_call() and sizer.next_size(9_888) == 78 and not sizer.round_last


def test_pairs_only_for_a_seeded_short_call_under_the_byte_cap() -> None:
    timed = ChunkSizer(64, 20_000)
    timed.observe(79, 79 * 1e-3)  # timed by the call itself: rounds as usual
    assert not timed.pairs(timed.next_size(20_000))
    big = ChunkSizer(64, 20_000)
    big.seed(1e-3, bytes_per_item=MAX_CHUNK_BYTES / 100)  # 79 items are 0.79 of the cap
    assert not big.pairs(big.next_size(20_000))
    long = ChunkSizer(64, 20_000)
    long.seed(1e-2)  # 3 s a worker: not short
    assert not long.pairs(long.next_size(20_000))
    assert not ChunkSizer(64, 20_000, fixed=79).pairs(79)


@pytest.mark.parametrize("per_item_s", [
    SHORT_CALL_MIN_S * 64 / 20_000 / 2,  # each worker's part under SHORT_CALL_MIN_S: tiny
    SHORT_CALL_S * 64 / 20_000 * 2,      # ...over SHORT_CALL_S: rounds keep the end balanced
])
def test_only_a_short_call_has_its_last_round_early(per_item_s: float) -> None:
    sizer = ChunkSizer(64, 20_000)
    sizer.seed(per_item_s)
    assert not sizer.short_call()
    sizes = _whole_call(sizer, 20_000, per_item_s)
    assert max(sizes[128:]) <= max(sizes[:128])  # never a last round bigger than the rounds


def test_a_short_calls_last_round_is_not_restarted_by_a_wobble() -> None:
    # Its chunks are twice the target-sized chunk: the check for "items got much slower"
    # compares with the size the round was cut for, not with the chunk. Measured before:
    # 43 workers got 155 items, then the estimate rose 4%, a new round began and the other
    # 21 got 51 each; the 43 took a fourth chunk and ended ~60 ms after the rest.
    sizer = ChunkSizer(64, 20_000)
    sizer.seed(1.2e-3)  # (an earlier call's timing: a short call is planned)
    sizer.observe(79, 79 * 1.2e-3)
    sizer.last = 79
    first = sizer.next_size(9_888, "w0")
    assert first == 155 and sizer.round_last
    sizer.observe(79, 79 * 1.3e-3)  # 1.25 ms now: `size` 80, 2 x 80 > 155
    assert [sizer.next_size(9_888 - 155 * i, f"w{i}") for i in range(1, 4)] == [155] * 3
    sizer.observe(79, 79 * 5e-3)  # but items that got much slower start a new round
    assert sizer.next_size(9_888 - 155 * 4) < 100


def _timed_sizer(n_workers: int, total: int, per_item_s: float) -> ChunkSizer:
    sizer = ChunkSizer(n_workers, total)
    sizer.observe(10, 10 * per_item_s)
    sizer.last = total
    return sizer


def test_a_worker_with_work_queued_takes_one_chunk_of_the_last_round() -> None:
    # 4 workers, 1,000 items of 100 us: the share is 1,000 / (4 x 8) = 31 items
    sizer = _timed_sizer(4, 1_000, 1e-4)
    assert sizer.next_size(1_000, "w1") == 125 and not sizer.round_last  # a round: half
    assert sizer.may_take("w1", has_work=True)  # not the last round: who asks first, gets
    sizer = _timed_sizer(4, 1_000, 1e-4)
    assert sizer.next_size(200, "w1") == 50 and sizer.round_last  # 25 < 31: the rest, 4 x 50
    assert not sizer.may_take("w1", has_work=True)  # its chunk waits behind its running one
    assert sizer.may_take("w1", has_work=False)  # idle: never kept waiting
    assert sizer.may_take("w2", has_work=True)
    assert [sizer.next_size(r, w) for r, w in ((150, "w2"), (100, "w3"), (50, "w4"))] == [50] * 3
    assert sizer.may_take("w1", has_work=True)  # the round is handed out


def test_a_round_restarts_at_once_when_items_get_much_slower() -> None:
    sizer = ChunkSizer(4, 100_000)
    sizer.observe(1000, 1000 * 1e-4)  # 100 us items: 1,000 a chunk
    sizer.last = 1000
    assert sizer.next_size(100_000) == 1000
    sizer.observe(10, 10 * 1e-2)  # now 10 ms: the estimate ~5 ms, 19 a chunk
    assert sizer.next_size(99_000) == int(TARGET_CHUNK_S / sizer.per_item_s) == 19


def test_share_floor_is_small_with_few_workers() -> None:
    # 2 workers on 200,000 items of 1 us: the share is MIN_CHUNK_S per worker (4 ms of work),
    # not 1/8 of a worker's part (12.5 ms): below it, the last round splits the rest in two.
    sizer = ChunkSizer(2, 200_000)
    sizer.observe(1000, 1000 * 1e-6)
    sizer.last = 100_000
    assert sizer.next_size(20_000) == 5_000  # a round: half of it, in two chunks
    sizer = ChunkSizer(2, 200_000)
    sizer.observe(1000, 1000 * 1e-6)
    sizer.last = 100_000
    assert sizer.next_size(5_000) == 2_500  # the last round: all of it, in two chunks


def test_share_floor_never_makes_a_chunk_longer_than_the_target() -> None:
    sizer = ChunkSizer(2, 100)
    sizer.observe(1, 1.0)  # 1 s items: one at a time, whatever the share (6 items)
    assert sizer.next_size(100) == 1


def test_a_single_remaining_item_is_one_chunk() -> None:
    assert ChunkSizer(2, 1).next_size(1) == 1
    assert ChunkSizer(2, 1).next_size(0) == 1  # never zero


def test_fixed_size_ignores_timings_and_tail() -> None:
    sizer = ChunkSizer(2, 1000, fixed=7)
    sizer.observe(7, 7.0)
    assert sizer.next_size(1000) == 7
    assert sizer.next_size(3) == 7  # the scheduler takes what is left
    # An explicit size is the user's: honoured above the adaptive cap, up to its own.
    assert ChunkSizer(2, None, fixed=MAX_CHUNK_ITEMS * 2).next_size(None) == MAX_CHUNK_ITEMS * 2
    assert ChunkSizer(2, None, fixed=MAX_FIXED_CHUNK_ITEMS * 2).next_size(None) \
        == MAX_FIXED_CHUNK_ITEMS


@pytest.mark.parametrize("bad", [0, -1, 2.5, "4"])
def test_bad_fixed_size_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match=f"chunksize must be a positive int or None, not {bad!r}"):
        ChunkSizer(2, None, fixed=bad)  # type: ignore[arg-type]


def test_byte_cap_limits_big_items() -> None:
    sizer = ChunkSizer(2, None)
    sizer.next_size(None)
    sizer.observe(4, 4e-7)  # fast items...
    sizer.observe_bytes(4, 4 * 4 * 1024 * 1024)  # ...of 4 MiB each
    sizer.last = 1000
    assert sizer.next_size(None) == MAX_CHUNK_BYTES // (4 * 1024 * 1024)
    sizer.observe_bytes(1, 64 * 1024 * 1024)  # an item over the cap still goes, alone
    assert sizer.next_size(None) == 1


def test_item_cap() -> None:
    sizer = ChunkSizer(1, None)
    sizer.observe(1, 1e-12)
    sizer.last = MAX_CHUNK_ITEMS
    assert sizer.next_size(None) == MAX_CHUNK_ITEMS


def test_n_workers_below_one_is_treated_as_one() -> None:
    assert ChunkSizer(0, 10).n_workers == 1


def test_a_seeded_sizer_skips_the_probes_capped_at_a_quarter_share() -> None:
    sizer = ChunkSizer(64, 20_000)
    sizer.seed(1e-3)  # 100 items would be 100 ms; a quarter of a worker's share is 79
    assert sizer.next_size(20_000) == math.ceil(20_000 / (4 * 64))
    sizer = ChunkSizer(2, 20_000)
    sizer.seed(0.02)  # slow items: the target decides (5 items of 20 ms)
    assert sizer.next_size(20_000) == int(TARGET_CHUNK_S / 0.02)


def test_the_calls_own_first_timing_replaces_the_seed() -> None:
    sizer = ChunkSizer(2, 10_000)
    sizer.seed(1e-6)
    sizer.next_size(10_000)
    sizer.observe(10, 1.0)  # 100 ms an item, not 1 µs: not averaged with the seed
    assert not sizer.seeded and sizer.per_item_s == pytest.approx(0.1)
    assert sizer.next_size(9_990) == 1


@pytest.mark.parametrize("n_workers, total, fixed", [(2, None, None), (2, 100, 10), (2, 0, None)])
def test_seed_is_ignored_for_lazy_empty_or_fixed_calls(n_workers: int, total: int | None,
                                                        fixed: int | None) -> None:
    sizer = ChunkSizer(n_workers, total, fixed)
    sizer.seed(1e-3)
    assert sizer.per_item_s is None and not sizer.seeded


def test_a_seeded_sizer_keeps_its_first_chunks_under_the_byte_cap() -> None:
    sizer = ChunkSizer(2, 200)
    sizer.seed(1e-3, 4 * 2**20)  # 4 MB arrays: 4 a chunk (16 MiB), not 25 (a quarter share)
    assert sizer.next_size(200) == MAX_CHUNK_BYTES // (4 * 2**20) == 4


def _timed(per_item_s: float, bytes_per_item: float | None = None) -> ChunkSizer:
    sizer = ChunkSizer(2, 100)
    sizer.observe(10, 10 * per_item_s)
    if bytes_per_item is not None:
        sizer.observe_bytes(10, int(10 * bytes_per_item))
    return sizer


def test_item_times_are_per_function_pickle_and_mode_and_bounded() -> None:
    times = ItemTimes()
    a, b = ItemTimes.key("map", [b"fn-a"]), ItemTimes.key("map", [b"fn-b"])
    times.put(a, _timed(1e-3, 100.0))
    assert times.get(a) == (pytest.approx(1e-3), 100.0) and times.get(b) is None
    assert times.get(ItemTimes.key("star", [b"fn-a"])) is None
    assert ItemTimes.key("map", []) is None
    times.put(b, ChunkSizer(2, 100))  # never timed: nothing to keep
    assert times.get(b) is None
    for i in range(ItemTimes.MAX_FUNCTIONS):
        times.put(ItemTimes.key("map", [b"%d" % i]), _timed(1.0))
    assert times.get(a) is None  # the oldest was dropped
    assert len(times._times) == ItemTimes.MAX_FUNCTIONS
