"""How many items go into one task on the wire: adaptive chunking.

Tiny tasks are batched so the per-message cost (a few tens of microseconds) vanishes; long
tasks go one by one so no worker sits idle at the end. The size follows the measured time per
item: start small (or from the item time the function's previous map measured), grow
geometrically towards ``TARGET_CHUNK_S`` of work per chunk, and hand out the tail in rounds:
one round is one equal chunk per worker, together ``1 / TAIL_SPLIT`` of what is left; once
such a chunk would fall below a share of each worker's part of the call, a last round splits
all that is left equally between the workers. No tail chunk is cut below ``MIN_CHUNK_S`` of
work.

Why the floor: the tail split alone shrinks every chunk to a quarter of what is left (2
workers), a geometric series down to one item. On 200,000 tiny tasks that made ~35 of ~50
chunks in the last few percent of the work, each a driver/worker round trip (~0.1-0.5 ms) for
microseconds of work: ~25 ms of a ~85 ms map. Below ~2 ms of work per chunk the round trip
costs more than the balance it buys; the end stays balanced within a chunk or two of 2 ms.

Why rounds: a size recomputed per chunk shrinks within what is one round of hand-outs, and a
fixed floor leaves a last partial round. Measured, 64 workers x 20,000 sleeps of 1 ms: chunks
of 47-61 items, then 127 of the 39-item floor; the workers given the smaller chunks came back
first and took a third floor chunk, the others two: 288-344 items a worker, the last ending
46 ms after the median (1.28x the ideal; 256 equal chunks would be 4 a worker).

Why a short call's last round comes early: when each worker's part is only a few chunks of
the target (SHORT_CALL_MIN_S to SHORT_CALL_S of work), every chunk's end costs more than its
balance buys. Each is a pause in the worker (its results handed to zmq's I/O thread, the next
message unpickled: ~3-5 ms with 64 processes on 2 cores) and ~0.3 ms of the driver's CPU, on
a machine whose cores the 64 workers' wake-ups already fill. So such a call goes in three
chunks a worker: the two each holds from the start (a quarter of its part each), then, timed,
one round splitting all the rest equally. Only a map call that starts from an earlier call's
item time (seeded) is planned so: it knows its part before any chunk ran (a first call, a
joblib or a Dask one keeps its rounds). Its first two chunks travel in one message (`pairs`):
the worker runs the second right after the first, answering the first as it ends, and the
driver sends half as many messages up front; a worker holding both is given no more until
that answer timed the call (`may_take`).
Measured, 64 workers x 20,000 sleeps of 1 ms, alternating in one pool (12 runs, load 1-3):
320 -> 192 chunks (the same 312-313 items a worker), gaps between chunks 0.7-2 s -> 0.1-0.6 s
summed over the workers, 0.414 -> 0.388 s (1.32x -> 1.24x the ideal). `benchmarks/
throughput.py --only sleep64 --reps 5`, old and new code in turns at load 1.6-3.2: 1.28x and
1.25x -> 1.21x and 1.19x the ideal (multiprocessing 1.14-1.18x in the same runs).
"""
from __future__ import annotations

import hashlib
import math
from typing import Any

__all__ = ["ChunkSizer", "ItemTimes"]

# 100 ms of work per chunk. Each chunk costs a round trip: ~0.5 ms of the driver's CPU in
# the pool's process, which competes with the workers for the machine's cores. Measured on
# 2,000 tasks of 5 ms on 2 cores: 25 ms chunks took 4.81 s, 50 ms 4.56 s, 100 ms 4.47 s
# (the driver's CPU 0.29 s -> 0.12 s). Progress still moves ten times a second per worker,
# and the tail split below keeps the end balanced.
TARGET_CHUNK_S = 0.1
FIRST_CHUNK = 4  # items in the first probe chunk sent to each worker
GROWTH = 8  # a chunk is at most this many times the previous one until timings settle
TAIL_SPLIT = 2  # a tail round hands out 1/TAIL_SPLIT of the remainder, a chunk per worker
MIN_CHUNK_S = 0.002  # ...but a tail chunk keeps at least ~2 ms of (measured) work
# The last round comes once a round's chunk would be below a 1/TAIL_CHUNKS_PER_WORKER share
# of one worker's part of the call (up to MIN_CHUNK_S of work per worker): with many workers
# the geometric tail (remaining / (2 workers)) made hundreds of chunks of 1-3 items. Measured,
# 64 workers x 20,000 sleeps of 1 ms on 2 cores: 884 chunks (127 of one item), the workers
# busy 44% of the time, 3.1x the ideal.
TAIL_CHUNKS_PER_WORKER = 8
# A short call (each worker's part SHORT_CALL_MIN_S to SHORT_CALL_S of work) goes in three
# chunks a worker: the two a worker holds from the start (a quarter of its part each, the
# seeded cap), then, timed by then, one last round splitting all that is left equally once at
# most SHORT_LAST_PART of the call is left (module docstring). Below SHORT_CALL_MIN_S a
# worker's chunks are smaller than the target anyway and the geometric tail is cheap.
SHORT_CALL_MIN_S = 2 * TARGET_CHUNK_S
SHORT_CALL_S = 6 * TARGET_CHUNK_S
SHORT_LAST_PART = 0.6
MAX_CHUNK_BYTES = 16 * 1024 * 1024  # keep one message's arguments under ~16 MiB
# At most this many items a chunk: for tiny items 100 ms is millions of them, and a worker
# holds two chunks (one running, one queued) whose results the driver unpickles at once.
# Measured, the driver's RSS growth over an imap of 2,000,000 ints: 36 MB with 250,000,
# 18 MB with 100,000; for x*x a chunk of 100,000 is still 10-20 ms of work per round trip.
MAX_CHUNK_ITEMS = 100_000
MAX_FIXED_CHUNK_ITEMS = 1_000_000  # an explicit chunksize= is honoured up to this


class ItemTimes:
    """The item time and size each function's last map call measured (the driver's,
    bounded), so the next call of the same function starts with sized chunks. A function is
    known by its pickle (a closure over other values is another function) and the mode."""

    MAX_FUNCTIONS = 256

    def __init__(self) -> None:
        self._times: dict[tuple[str, bytes], tuple[float, float | None]] = {}

    @staticmethod
    def key(mode: str, fn_frames: list[Any] | None) -> tuple[str, bytes] | None:
        if not fn_frames:
            return None
        digest = hashlib.blake2b(digest_size=16)  # (a function pickled by value may be big)
        for frame in fn_frames:
            digest.update(frame)
        return mode, digest.digest()

    def get(self, key: tuple[str, bytes] | None) -> tuple[float, float | None] | None:
        """(seconds, pickled bytes) per item, or None."""
        return None if key is None else self._times.get(key)

    def put(self, key: tuple[str, bytes] | None, sizer: ChunkSizer) -> None:
        if key is None or sizer.per_item_s is None:
            return
        self._times.pop(key, None)  # re-inserted last: the oldest is dropped first
        self._times[key] = (sizer.per_item_s, sizer.bytes_per_item)
        if len(self._times) > self.MAX_FUNCTIONS:
            del self._times[next(iter(self._times))]


class ChunkSizer:
    """Chooses chunk sizes for one call from the timings of its finished chunks."""

    def __init__(self, n_workers: int, total: int | None, fixed: int | None = None) -> None:
        if fixed is not None and (not isinstance(fixed, int) or fixed < 1):
            raise ValueError(f"taskscope: chunksize must be a positive int or None, not {fixed!r}")
        self.n_workers = max(1, n_workers)
        self.total = total
        self.fixed = fixed
        self.per_item_s: float | None = None  # running estimate of seconds per item
        self.bytes_per_item: float | None = None
        self.last = 0
        self.seeded = False  # per_item_s came from an earlier call, not yet from this one
        self.was_seeded = False  # ...at the start (a short call is planned only then)
        self.round_size = 0  # the current round: its chunk size, chunks left, whether last
        self.round_basis = 0  # ...and the size it was cut for (a short call's last is bigger)
        self.round_left = 0
        self.round_last = False
        self.round_takers: set[Any] = set()  # who was given a chunk of the current round
        self.handed = 0  # chunks cut so far

    def seed(self, per_item_s: float, bytes_per_item: float | None = None) -> None:
        """Start from the item time (and size) an earlier call of the same function
        measured, instead of probing: the probe rounds cost two round trips per worker
        before any chunk has a real size. Measured, 64 workers x 20,000 sleeps of 1 ms: 128
        of 475 chunks were probes of 4 items. Only for a call of known size (the cap in
        next_size needs it). The size keeps the first chunks under MAX_CHUNK_BYTES (their
        own size is known only once pickled): 4 MB arrays went 25 to a chunk without it."""
        if self.fixed is None and self.total and self.per_item_s is None and per_item_s > 0:
            self.per_item_s = per_item_s
            self.seeded = self.was_seeded = True
            if self.bytes_per_item is None:
                self.bytes_per_item = bytes_per_item

    def observe(self, n_items: int, seconds: float) -> None:
        if n_items <= 0:
            return
        sample = max(seconds, 1e-9) / n_items
        if self.seeded:  # this call's own first timing replaces the earlier call's
            self.seeded, self.per_item_s = False, None
        # Weight by the items measured: one long chunk says more than a small probe.
        self.per_item_s = sample if self.per_item_s is None else 0.5 * (self.per_item_s + sample)

    def observe_bytes(self, n_items: int, nbytes: int) -> None:
        if n_items > 0:
            self.bytes_per_item = nbytes / n_items

    def may_take(self, who: Any, has_work: bool, held: int = 0) -> bool:
        """Whether `who` may have a chunk now: in the last round, a worker with work queued
        that has one chunk of it waits until the others have theirs. Measured, 64 workers x
        20,000 sleeps of 1 ms: workers that came back early took a second chunk of the last
        round (273-352 items a worker, the last ending a chunk after the median). And until a
        short call timed a chunk of its own, a worker holding two of its chunks (`held`
        items) waits: the last round is cut from that timing (module docstring)."""
        if held and self.seeded and self.short_call() and held >= 2 * self.last:
            return False
        return not (self.round_last and self.round_left > 0 and has_work
                    and who in self.round_takers)

    def quarter(self) -> int:
        """A quarter of one worker's share of the call: multiprocessing's default chunk."""
        return math.ceil((self.total or 0) / (4 * self.n_workers))

    def pairs(self, n_items: int) -> bool:
        """Whether the chunk of `n_items` just cut goes in one message with the next one: a
        short call's first two chunks for a worker, before the call timed any (module
        docstring). The worker answers the first as it ends: the last round waits for that."""
        return (self.seeded and self.fixed is None and self.short_call()
                and self.handed < 2 * self.n_workers
                and 2 * n_items * (self.bytes_per_item or 0.0) <= MAX_CHUNK_BYTES)

    def next_size(self, remaining: int | None, who: Any = None) -> int:
        """Items for the next chunk, given the items left (None when the input is lazy), for
        `who` (a worker's id, or None when the caller does not tell: see may_take)."""
        if self.fixed is not None:
            size = self.fixed
        elif self.per_item_s is None:
            size = FIRST_CHUNK if self.last == 0 else self.last
            if remaining is not None:  # (probes are small anyway)
                size = min(size, math.ceil(remaining / (self.n_workers * TAIL_SPLIT)))
        else:
            want = max(1, int(TARGET_CHUNK_S / self.per_item_s))
            if self.seeded and self.total:
                # Not timed by this call yet, and its items may be slower than the earlier
                # call's: at most multiprocessing's default chunk, a quarter of one
                # worker's share of the call.
                size = min(want, self.quarter())
            else:
                size = min(want, max(1, self.last) * GROWTH)
            if self.bytes_per_item:
                size = min(size, max(1, int(MAX_CHUNK_BYTES / self.bytes_per_item)))
            if remaining is not None:
                size = self.in_rounds(size, remaining, who)
        size = max(1, min(size, MAX_CHUNK_ITEMS if self.fixed is None else MAX_FIXED_CHUNK_ITEMS))
        self.last = size
        self.handed += 1
        return size

    def short_call(self) -> bool:
        """Whether each worker's part of the call is between SHORT_CALL_MIN_S and
        SHORT_CALL_S of (measured) work: a few target-sized chunks (module docstring). Only
        for a map call that started from an earlier call's item time: a first call probes
        and grows, and a joblib or Dask call sizes its own way, as before."""
        if not self.was_seeded or not self.total or self.per_item_s is None:
            return False
        share_s = self.total * self.per_item_s / self.n_workers
        return SHORT_CALL_MIN_S <= share_s <= SHORT_CALL_S

    def in_rounds(self, size: int, remaining: int, who: Any) -> int:
        """The next chunk of the current round: one equal chunk per worker (module docstring);
        a new round when this one is handed out, or at once when items got much slower (not
        at every wobble of the estimate: rounds out of step with the workers unbalance them)."""
        n = self.n_workers
        if self.round_left <= 0 or size * 2 < self.round_basis:
            split = math.ceil(remaining / (n * TAIL_SPLIT))
            share = 0
            if self.total:
                # (a driver serving more workers needs more work per round trip: at most
                # MIN_CHUNK_S per worker, so 2 workers keep a ~4 ms tail, 64 up to 128 ms)
                share = min(self.total // (n * TAIL_CHUNKS_PER_WORKER),
                            int(MIN_CHUNK_S * n / self.per_item_s))
            if self.short_call() and remaining <= SHORT_LAST_PART * self.total:
                # A short call's last round comes once about half of it is handed out
                # (module docstring), its chunks up to MAX_CHUNK_BYTES, not `size`.
                self.round_size = math.ceil(remaining / n)
                if self.bytes_per_item:
                    self.round_size = min(self.round_size,
                                          max(1, int(MAX_CHUNK_BYTES / self.bytes_per_item)))
                self.round_last = self.round_size * n >= remaining
            elif split >= share:
                self.round_size, self.round_last = min(size, split), False
            else:  # the last round: all that is left, equally
                self.round_size = min(size, math.ceil(remaining / n))
                self.round_last = self.round_size * n >= remaining
            self.round_basis = min(size, self.round_size)
            self.round_left = n
            self.round_takers.clear()
        self.round_left -= 1
        self.round_takers.add(who)
        chunk = self.round_size
        if self.round_last:  # equal to the item (ceil/floor), not a short last chunk
            chunk = math.ceil(remaining / (self.round_left + 1))
        # Do not split below ~MIN_CHUNK_S of work: a tinier chunk costs a round trip for less
        # work than that round trip (a floor on the split, not above the other caps).
        floor = min(remaining, int(MIN_CHUNK_S / self.per_item_s))
        return max(chunk, min(floor, size))
