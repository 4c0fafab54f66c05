"""The story a pool keeps (pool/history.py) and what is built from it: a late subscriber's
State, `Pool.task_stream()`, `Pool.report()` and `taskscope.report()`, with bad input.

Real pools, real sockets; the report's HTML is parsed back here (its drawing is checked in
Chromium by tests/browser/test_report_browser.py).
"""
from __future__ import annotations

import array
import base64
import json
import re
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import taskscope
from taskscope import Pool
from taskscope.collector import Collector
from taskscope.pool.history import Ring


def square(x: int) -> int:
    return x * x


def picky(x: int) -> int:
    if x == 4:  # one failure, however many items ran before the call was stopped
        raise ValueError(f"picky about {x}")
    return x


@pytest.fixture(autouse=True)
def _own_runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))


@pytest.fixture
def pool() -> Iterator[Pool]:
    with Pool(2, name="story") as p:
        yield p


def run_work(pool: Pool) -> None:
    pool.map(square, range(1500), chunksize=10)
    with pytest.raises(ValueError, match="picky about 4"):
        pool.map(picky, range(50), chunksize=1)
    futures = [pool.submit(square, i) for i in range(25)]
    assert [f.result() for f in futures] == [i * i for i in range(25)]


def read_report(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="taskscope-report">(.*?)</script>',
                  text, re.S)
    assert m, "no embedded data"
    return json.loads(m.group(1))


def unpack_ring(ring: dict[str, Any]) -> bytes:
    """The inverse of reports._pack_ring, as js/src/report.js does it."""
    n, width = ring["n"], ring["width"]
    if not n:
        return b""
    raw = zlib.decompress(base64.b64decode(ring["data"]))
    cols = []
    for f in range(width):
        planes = [raw[(f * 8 + b) * n:(f * 8 + b + 1) * n] for b in range(8)]
        col = bytearray(8 * n)
        for b in range(8):
            col[b::8] = planes[b]
        cols.append(array.array("d", bytes(col)))
    return array.array("d", [cols[f][i] for i in range(n) for f in range(width)]).tobytes()


# ------------------------------------------------------------------ late subscribers
def test_a_late_subscriber_builds_the_state_a_watcher_from_the_start_has(pool: Pool) -> None:
    info = pool.connection_info()
    early = Collector(info["events"], info["key"], "early")
    try:
        assert early.wait_for(lambda st: st.seq > 0, 5)
        run_work(pool)
        time.sleep(1.1)  # resource samples
        late = Collector(info["events"], info["key"], "late")
        try:
            assert late.wait_for(lambda st: st.stream.total > 0, 5)
            time.sleep(0.3)  # both get the same later events
            with early.lock, late.lock:
                a, b = early.state, late.state
                ja, jb = a.to_json(), b.to_json()
                for key in ("totals", "functions", "errors_total", "stream_total"):
                    assert ja[key] == jb[key], key
                assert a.stream.since(0) == b.stream.since(0)
                assert [e["message"] for e in ja["errors"]] == [e["message"] for e in jb["errors"]]
                assert b.resources.total >= 2 and b.resources.total == a.resources.total
                assert [(w["id"], w["tasks_done"]) for w in ja["workers"]] == \
                    [(w["id"], w["tasks_done"]) for w in jb["workers"]]
                fns = {f["name"]: f for f in jb["functions"]}
                assert fns["square"]["submitted"] == 1525 and fns["picky"]["counts"]["erred"] == 1
        finally:
            late.stop()
    finally:
        early.stop()


def test_ring_load_keeps_order_across_the_wrap() -> None:
    src = Ring(2, 5)
    for i in range(13):  # wraps twice
        src.append((float(i), float(-i)))
    first, raw = src.since(0)
    assert first == 8
    dst = Ring(2, 5)
    dst.load(first, raw)
    assert (dst.total, len(dst)) == (13, 5) and dst.since(0) == (first, raw)
    dst.append((13.0, -13.0))
    assert array.array("d", dst.since(12)[1]).tolist() == [12.0, -12.0, 13.0, -13.0]
    late = Ring(2, 10)  # a few records from the middle of the sequence, then more
    late.load(3, array.array("d", [3.0, -3.0]).tobytes())
    late.append((4.0, -4.0))
    assert late.since(0) == (3, array.array("d", [3.0, -3.0, 4.0, -4.0]).tobytes())
    small = Ring(2, 3)  # more records than it holds: the newest are kept
    small.load(first, raw)
    assert small.total == 13 and array.array("d", small.since(0)[1]).tolist()[0] == 10.0


# ------------------------------------------------------------------ task_stream()
def test_task_stream_is_empty_before_any_task_and_after_close() -> None:
    with Pool(1) as idle:
        assert idle.task_stream() == []
    assert idle.task_stream() == []


def test_task_stream_records_every_chunk(pool: Pool) -> None:
    run_work(pool)
    records = pool.task_stream()
    assert set(records[0]) == {"worker", "function", "call", "start", "end", "items", "erred",
                               "state"}
    by_fn: dict[str, int] = {}
    for r in records:
        assert r["end"] >= r["start"] > 0 and r["worker"] in (0, 1)
        by_fn[r["function"]] = by_fn.get(r["function"], 0) + r["items"]
    assert by_fn["square"] == 1500 + 25
    assert {r["state"] for r in records if r["function"] == "square" and r["call"] != 1} == {"memory"}
    erred = [r for r in records if r["state"] == "erred"]
    assert len(erred) == 1 and erred[0]["function"] == "picky" and erred[0]["erred"] == 1
    pool.shutdown()
    assert pool.task_stream() == records  # a closed pool keeps its story


# ------------------------------------------------------------------ reports
def test_report_of_a_closed_pool_embeds_its_whole_story(pool: Pool, tmp_path: Path) -> None:
    run_work(pool)
    pool.shutdown()
    records = pool.task_stream()
    out = pool.report(tmp_path / "run.html")
    assert out == tmp_path / "run.html"
    data = read_report(out)
    [p] = data["pools"]
    st = p["state"]
    assert st["pool"]["status"] == "closed" and st["stream_total"] == len(records)
    assert p["stream"]["n"] == len(records) and p["stream"]["first"] == 0
    starts = array.array("d", unpack_ring(p["stream"]))[0::6]
    assert list(starts) == [r["start"] for r in records]  # lossless
    assert st["errors"][0]["exc_type"] == "ValueError" and st["errors_total"] == 1
    assert {f["name"] for f in st["functions"]} == {"square", "picky"}
    html = out.read_text(encoding="utf-8")
    # One file: no stylesheet or script to fetch, and a policy that forbids fetching any.
    assert "<link" not in html and not re.search(r"<script[^>]+src=", html)
    assert "default-src 'none'" in html


def test_report_escapes_what_could_end_its_script(tmp_path: Path) -> None:
    def evil(x: int) -> int:
        raise ValueError("</script><script>alert(1)</script>")

    with Pool(1) as p, pytest.raises(ValueError):
        p.map(evil, [1])
    html = p.report(tmp_path / "evil.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html
    assert read_report(tmp_path / "evil.html")["pools"][0]["state"]["errors"][0]["message"] \
        .startswith("</script>")


@pytest.mark.parametrize("where, error, match", [
    ("missing-dir/run.html", FileNotFoundError, "does not exist; create it first"),
    (".", IsADirectoryError, "it is a directory"),
])
def test_report_to_a_path_it_cannot_write_names_the_path(pool: Pool, tmp_path: Path,
                                                          where: str, error: type, match: str) -> None:
    target = tmp_path / where
    with pytest.raises(error, match=match) as info:
        pool.report(target)
    assert str(target) in str(info.value)
    # One sentence from taskscope, not a chain of library errors.
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_report_to_a_path_the_system_refuses(pool: Pool) -> None:
    with pytest.raises(OSError, match=r"taskscope: cannot write the report to '/proc/"):
        pool.report("/proc/taskscope-report.html")


def test_report_block_checks_its_path_before_the_work(tmp_path: Path) -> None:
    ran = []
    with pytest.raises(FileNotFoundError, match="nowhere"):
        with taskscope.report(tmp_path / "nowhere" / "r.html"):
            ran.append(1)
    assert not ran


def test_report_block_is_written_when_the_block_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="picky"):
        with taskscope.report(tmp_path / "failed.html") as rep:
            with Pool(2, name="failing-block") as p:
                p.map(picky, range(20), chunksize=1)
    data = read_report(rep.written)
    assert [x["state"]["pool"]["name"] for x in data["pools"]] == ["failing-block"]
    assert data["pools"][0]["state"]["errors_total"] == 1


def test_report_block_without_pools_writes_an_empty_report(tmp_path: Path) -> None:
    with taskscope.report(tmp_path / "empty.html") as rep:
        pass
    assert read_report(rep.written)["pools"] == []
