"""The lost-results bug: a map that returned a prefix of its results and no error.

A worker SIGKILLed in the middle of a batched "run" message (many one-item chunks, answered
in parts) loses the results of the chunks it finished but had not answered yet. They run
again (requeued), but the chunk it died on fails the call (fail fast), which cancels every
queued chunk, those requeued ones too. The call then ends with a hole *before* its failed
item, and the reader stopped at the hole without raising: `map` returned the items before
the hole (a chaos run got 8 of 200). The reader must raise the failure.

Deterministic: a pool of one worker, and an item that SIGKILLs its own worker. The first
two chunks travel alone (their time is not measured yet), the next message carries many
(pool/scheduler.py more_chunks), so the killing item sits in the middle of one.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest
from test_faults import assert_counts_add_up, settled, watch  # same directory

from taskscope.pool import Pool, WorkerDiedError, running_slot
from taskscope.pool.lifecycle import WorkerLifecycle, WorkerRecord

ITEMS = 400
KILLER = 150  # the item that SIGKILLs its worker: far into the third, batched, message


def square_or_die(x: int) -> int:
    if x == KILLER:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def test_a_worker_killed_mid_message_fails_the_map_instead_of_shortening_it() -> None:
    with Pool(1) as pool:
        col = watch(pool)
        try:
            with pytest.raises(WorkerDiedError) as info:
                out = pool.map(square_or_die, range(ITEMS), chunksize=1)
                pytest.fail(f"map returned {len(out)} of {ITEMS} results and no error")
            assert f"item {KILLER} of call" in str(info.value) and "signal 9" in str(info.value)

            # The same through imap: the items before the hole, then the failure. A hole
            # (fewer than KILLER items) shows the case was met: finished chunks of the dying
            # message were lost and cancelled. Several tries, in case a part answer happened
            # to carry every item up to the killer (no hole then, nothing tested).
            holes = 0
            for _ in range(3):
                got = []
                with pytest.raises(WorkerDiedError) as info:
                    for value in pool.imap(square_or_die, range(ITEMS), chunksize=1):
                        got.append(value)
                assert f"item {KILLER} of call" in str(info.value)
                assert got == [x * x for x in range(len(got))]
                assert len(got) <= KILLER
                holes += len(got) < KILLER
                if holes:
                    break
            assert holes, "every item before the killer came back: the case was not met"

            # the pool goes on, and every item ended with a result, an error or a cancellation
            assert pool.map(square_or_die, range(KILLER)) == [x * x for x in range(KILLER)]
            assert_counts_add_up(settled(col, pool))
        finally:
            col.stop()


def test_the_running_slot_names_the_task_a_worker_died_on_in_any_of_its_messages(
        tmp_path: Path) -> None:
    """Which tasks a dead worker had started (lifecycle.started_on), read from its real slot
    file as the worker writes it. A slot naming a task of its second message means the first
    was finished (its last answer lost or late): that task is the one to blame, not none."""
    process = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    process.start()
    process.join()
    w = WorkerRecord(7, process, None, time.monotonic())
    w.slot = running_slot.create(str(tmp_path), 7)
    writer = running_slot.Writer(w.slot)
    w.messages.extend([[11, 12, 13], [21, 22]])
    assert WorkerLifecycle.started_on(None, w) == set()  # type: ignore[arg-type] (0: none)
    writer.set(12)
    assert WorkerLifecycle.started_on(None, w) == {12}  # type: ignore[arg-type]
    writer.set(22)
    assert WorkerLifecycle.started_on(None, w) == {22}  # type: ignore[arg-type]
    writer.set(99)  # a task of no message it holds (answered long ago): none
    assert WorkerLifecycle.started_on(None, w) == set()  # type: ignore[arg-type]
    running_slot.remove(w.slot)  # no slot to read: the whole oldest message is suspect
    assert WorkerLifecycle.started_on(None, w) == {11, 12, 13}  # type: ignore[arg-type]
