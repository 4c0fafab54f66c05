"""The Dask adapter's pure parts: batch encoding, translation to events, and the State's
reducers for sources that count at the source (protocol 1.2). No cluster here: the
integration tests (tests/integration/test_dask_watch.py) run these on a real one."""
from __future__ import annotations

import time

import pytest

from taskscope.pool.dask.translate import (
    FLAG_ERRED,
    FLAG_TRANSFER,
    Translator,
    decode_stream,
    split_exception,
)
from taskscope.pool.protocol import Event, check_event
from taskscope.state import State

pytest.importorskip("distributed")
from taskscope.pool.dask.plugin import encode_stream  # noqa: E402  (imports distributed)


@pytest.mark.parametrize(("text", "expected"), [
    ("ValueError('bad 13')", ("ValueError", "bad 13")),
    ('KeyError("x")', ("KeyError", "x")),
    ("ZeroDivisionError('division by zero')", ("ZeroDivisionError", "division by zero")),
    ("mod.CustomError(1, 2)", ("mod.CustomError", "1, 2")),
    ("RuntimeError()", ("RuntimeError", "")),
    ("not a repr", ("Exception", "not a repr")),
    ("", ("Exception", "")),
])
def test_split_exception(text: str, expected: tuple[str, str]) -> None:
    assert split_exception(text) == expected


def test_stream_round_trip() -> None:
    bars = [["inc", "tcp://127.0.0.1:1", 11, "compute", 1000.0, 1000.5, 3, False],
            ["add", "tcp://127.0.0.1:2", 12, "transfer", 1000.25, 1000.2501, 1, False],
            ["inc", "tcp://127.0.0.1:1", 11, "compute", 1001.0, 1002.0, 1, True]]
    enc = encode_stream(bars)
    assert len(enc["names"]) == 6  # 2 prefixes, 2 addresses, 2 actions: each once
    dec = decode_stream(enc)
    for a, b in zip(bars, dec, strict=True):
        assert a[:4] == b[:4] and a[6:] == b[6:]
        assert abs(a[4] - b[4]) < 1e-4 and abs(a[5] - b[5]) < 1e-4
    assert decode_stream(None) == [] and decode_stream(encode_stream([])) == []


def _row(addr: str, nthreads: int = 2, processing: int = 0) -> list:
    return [addr, "0", nthreads, 4_000_000_000, "running", 80_000_000, 1_000, 79_999_000, 5_000,
            12.5, processing, "inc" if processing else None, {"GPU": 1}, 4321]


def _apply(state: State, events: list, seq: list[int]) -> None:
    for kind, ts, body in events:
        seq[0] += 1
        state.apply(check_event({"kind": kind, "seq": seq[0], "ts": ts, "src": "driver",
                                 "body": body}))


def test_translator_feeds_the_state() -> None:
    tr, st, seq = Translator(), State(), [0]
    off = tr.offset()
    now = time.time()
    a, b = "tcp://127.0.0.1:1", "tcp://127.0.0.1:2"
    bars = [["inc", a, 101, "compute", now - 1.0, now - 0.5, 4, False],
            ["inc", a, 102, "compute", now - 1.0, now - 0.4, 1, False],
            ["inc", b, 201, "transfer", now - 0.6, now - 0.55, 1, False],
            ["inc", b, 201, "compute", now - 0.5, now - 0.3, 1, True]]
    batch = {"v": 1, "seq": 0, "t": now, "full": True,
             "prefixes": {"inc": [1, 0, 2, 3, 1, 0, 0, 7, 1.3]},
             "workers": [_row(a, processing=2), _row(b)],
             "stream": encode_stream(bars), "errors": [
                 {"key": "inc-5", "prefix": "inc", "worker": b, "time": now,
                  "exception": "ValueError('bad 5')", "traceback": '  File "x.py", line 2, in inc\n'},
                 {"key": "add-5", "prefix": "add", "blame": "inc-5", "n": 3, "time": now,
                  "exception": "ValueError('bad 5')", "traceback": ""}],
             "removed": []}
    _apply(st, tr.batch(batch), seq)
    j = st.to_json()
    inc = next(c for c in j["calls"] if c["fn"] == "inc")
    assert inc["counts"]["memory"] == 3 and inc["counts"]["processing"] == 2
    assert inc["submitted"] == 7 and inc["status"] == "running" and inc["api"] == "dask"
    assert j["totals"] == {"submitted": 7, "done": 3, "erred": 1, "cancelled": 0}
    wa, wb = sorted(j["workers"], key=lambda w: w["id"])
    assert wa["label"] == "127.0.0.1:1" and wa["status"] == "busy" and wa["current"] == "inc"
    assert wb["status"] == "idle" and wb["spilled"] == 5_000 and wb["resources"] == {"GPU": 1}
    assert len(wa["lanes"]) == 2 and len(wb["lanes"]) == 2  # nthreads lanes each
    assert wa["tasks_done"] == 5 and wb["tasks_done"] == 1  # transfers are not tasks
    assert j["pool"]["n_workers"] == 2
    # Stream records: on the lanes of their workers, in monotonic time, flagged.
    n, raw = st.stream.since(0)
    import array
    recs = array.array("d", raw).tolist()
    rows = [recs[i:i + 6] for i in range(0, len(recs), 6)]
    assert len(rows) == 4
    assert {r[2] for r in rows[:2]} == set(wa["lanes"]) and rows[2][2] in wb["lanes"]
    assert rows[2][5] == FLAG_TRANSFER and rows[3][5] == FLAG_ERRED
    assert abs(rows[0][0] - (now - 1.0 - off)) < 0.01
    # Errors: the raiser and its blamed dependents (grouped).
    e1, e2 = j["errors"]
    assert (e1["exc_type"], e1["message"], e1["key"]) == ("ValueError", "bad 5", "inc-5")
    assert e1["traceback"].startswith("Traceback (most recent call last):")
    assert e1["traceback"].rstrip().endswith("ValueError: bad 5") and e1["worker"] == wb["id"]
    assert e2["blame"] == "inc-5" and e2["count"] == 3
    assert e2["message"] == "3 tasks of 'add' failed because its input 'inc-5' failed: bad 5"
    # A worker removed by Dask: died, its last facts kept; and the prefix finishes.
    _apply(st, tr.batch({"v": 1, "seq": 1, "t": now, "prefixes": {
        "inc": [0, 0, 0, 5, 1, 1, 0, 7, 2.0]}, "removed": [[b, "died", now]]}), seq)
    j = st.to_json()
    inc = next(c for c in j["calls"] if c["fn"] == "inc")
    assert inc["status"] == "erred" and inc["ended"] is not None
    assert j["totals"] == {"submitted": 7, "done": 5, "erred": 1, "cancelled": 1}
    wb = next(w for w in j["workers"] if w["id"] == 1)
    assert wb["status"] == "died" and wb["rss"] == 80_000_000
    late, seq2 = State(), [0]  # a late joiner sees it died too
    _apply(late, tr.replay(time.monotonic()), seq2)
    assert [w["status"] for w in sorted(late.to_json()["workers"], key=lambda w: w["id"])] == \
        ["busy", "died"]
    # New tasks of a finished prefix: running again, and counted once.
    _apply(st, tr.batch({"v": 1, "seq": 2, "t": now, "prefixes": {
        "inc": [2, 0, 0, 5, 1, 1, 0, 9, 2.0]}}), seq)
    inc = next(c for c in st.to_json()["calls"] if c["fn"] == "inc")
    assert inc["status"] == "running" and inc["ended"] is None and inc["submitted"] == 9
    assert st.totals["submitted"] == 9 and tr.gaps == 0


def test_replay_is_idempotent() -> None:
    """A late subscriber gets call.counts and worker.info of everything; applying the
    replay to a State that has it all already changes no count."""
    tr, st, seq = Translator(), State(), [0]
    now = time.time()
    _apply(st, tr.batch({"v": 1, "seq": 0, "t": now, "prefixes": {"inc": [0, 0, 0, 4, 0, 0, 6, 10, 1.0]},
                         "workers": [_row("tcp://127.0.0.1:1")]}), seq)
    before = st.to_json()
    _apply(st, tr.replay(time.monotonic()), seq)
    after = st.to_json()
    assert after["totals"] == before["totals"]
    assert [c["counts"] for c in after["calls"]] == [c["counts"] for c in before["calls"]]
    late = State()
    seq2 = [0]
    _apply(late, tr.replay(time.monotonic()), seq2)
    assert late.to_json()["totals"] == before["totals"]
    assert [w["label"] for w in late.to_json()["workers"]] == ["127.0.0.1:1"]


def test_sequence_gaps_are_counted() -> None:
    tr = Translator()
    tr.batch({"v": 1, "seq": 0, "t": 0.0})
    tr.batch({"v": 1, "seq": 3, "t": 0.0})
    assert tr.gaps == 2


def test_events_are_valid() -> None:
    tr = Translator()
    for kind, ts, body in tr.batch({"v": 1, "seq": 0, "t": time.time(),
                                    "prefixes": {"x": [0, 0, 0, 1, 0, 0, 0, 1, 0.1]},
                                    "workers": [_row("tcp://h:1")]}):
        ev = check_event({"kind": kind, "seq": 1, "ts": ts, "src": "driver", "body": body})
        assert isinstance(ev, Event)
