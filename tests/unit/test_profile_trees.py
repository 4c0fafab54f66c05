"""The profiler's trees (pool/profiler.py) and the State's profiles (state_profile.py):
sampling a real thread's stack, merging, pruning to the heaviest connected nodes, bounds."""
from __future__ import annotations

import threading
import time

import msgpack

from taskscope.pool.profile_store import ProfileStore
from taskscope.pool.profiler import Node, Sampler, merge_wire, prune, to_dicts, to_wire
from taskscope.pool.protocol import Event
from taskscope.state import State
from taskscope.state_profile import JSON_NODES, ProfileState


def _wire(name: str, count: int, *children: list) -> list:
    return [name, "/x/nb.py", 1, count, list(children)]


def _tree() -> list:
    # all(10) -> outer(10) -> {helper(7) -> inner(6), other(2)}
    return ["", "", 0, 10, [_wire("outer", 10, _wire("helper", 7, _wire("inner", 6)),
                                  _wire("other", 2))]]


def test_merge_adds_counts_along_paths_and_keeps_keys_apart() -> None:
    root = Node()
    merge_wire(root, _tree())
    merge_wire(root, ["", "", 0, 3, [_wire("outer", 3, _wire("other", 3))]])
    d = to_dicts(root)
    assert d["count"] == 13
    outer = d["children"][0]
    assert (outer["name"], outer["count"]) == ("outer", 13)
    assert [(c["name"], c["count"]) for c in outer["children"]] == [("helper", 7), ("other", 5)]
    # the same name in another file is another function
    merge_wire(root, ["", "", 0, 1, [["outer", "/y.py", 1, 1, []]]])
    assert len(to_dicts(root)["children"]) == 2


def test_to_wire_keeps_the_heaviest_connected_nodes() -> None:
    root = Node()
    merge_wire(root, _tree())
    cut = to_wire(root, max_nodes=4)  # root, outer, helper, inner: not other (2 < 6)
    names = []

    def walk(n: list) -> None:
        names.append(n[0])
        for c in n[4]:
            walk(c)
    walk(cut)
    assert names == ["", "outer", "helper", "inner"]
    # what was cut stays in the parent's count (its own time), never lost
    assert cut[3] == 10 and cut[4][0][3] == 10
    assert prune(root, 2).size() == 2


def test_malformed_wire_is_skipped_not_raised() -> None:
    root = Node()
    for bad in (None, 5, "x", [1, 2], ["a", "b", 0, "many", []], ["", "", 0, 2, [None, [1]]]):
        merge_wire(root, bad)
    assert root.count == 2  # only the last one's root count was a number


def test_wire_is_msgpack_plain_and_small() -> None:
    root = Node()
    merge_wire(root, _tree())
    packed = msgpack.packb(to_wire(root))
    assert msgpack.unpackb(packed) == _tree() and len(packed) < 120


def _busy_helper(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(1000))


def _task(stop: threading.Event) -> None:
    _busy_helper(stop)


def test_sampler_counts_a_real_threads_frames_below_the_runner() -> None:
    # Sample another thread (as the worker's sampler samples its main thread). Its stack
    # does not pass through worker.py, so every sample is refused: the worker's own work.
    stop = threading.Event()
    t = threading.Thread(target=_task, args=(stop,), daemon=True)
    t.start()
    s = Sampler()
    s._main = t.ident
    for _ in range(5):
        s.sample(1)
    stop.set()
    t.join()
    assert s.pending == 0 and s.take() == []


def test_store_bounds_calls_and_names_unknown_calls() -> None:
    store = ProfileStore()

    class Call:
        def __init__(self, fn: str) -> None:
            self.info = {"fn": fn, "module": "__main__"}
    calls = {i: Call(f"f{i}") for i in range(1, 80)}
    for i in calls:
        store.add([[i, _tree()]], calls)
    assert len(store.calls) == 50 and min(store.calls) == 30
    assert store.profile(79, "p", calls)["count"] == 10
    assert store.profile("f79", "p", calls)["count"] == 10
    assert store.profile(None, "p", calls)["count"] == 500
    import pytest
    with pytest.raises(ValueError, match=r"no call 999.*79 \(f79\)"):
        store.profile(999, "p", calls)
    with pytest.raises(ValueError, match="ran no call of 'nope'"):
        store.profile("nope", "p", calls)
    with pytest.raises(TypeError, match="call id"):
        store.profile(1.5, "p", calls)

    class Events:
        def __init__(self) -> None:
            self.out: list = []

        def emit(self, kind: str, **body: object) -> None:
            self.out.append((kind, body))
    ev = Events()
    store.publish(ev, force=True)
    assert ev.out[0][0] == "profile" and len(ev.out[0][1]["profiles"]) == 50
    store.publish(ev, force=True)
    assert len(ev.out) == 1  # nothing new: nothing sent


def _event(seq: int, kind: str, body: dict) -> Event:
    return Event(kind, seq, float(seq), "driver", body)


def test_state_merges_events_indexes_files_and_adopts_only_when_behind() -> None:
    st = State()
    st.apply(_event(1, "profile", {"interval": 0.01, "profiles": [
        {"call": 7, "fn": "outer", "module": "__main__", "tree": _tree()}]}))
    st.apply(_event(2, "profile", {"interval": 0.01, "profiles": [
        {"call": 7, "fn": "outer", "module": "__main__", "tree": _tree()}]}))
    js = st.to_json()["profile"]
    assert js["files"] == ["", "/x/nb.py"]
    (call,) = js["calls"]
    assert call["samples"] == 20 and call["tree"][4][0][:4] == ["outer", 1, 1, 20]
    # a late joiner's history with fewer samples than we saw is not adopted
    ps = st.profile
    ps.adopt({"profiles": [{"call": 7, "fn": "outer", "tree": _tree()}]})
    assert ps.calls[7]["root"].count == 20
    fresh = ProfileState()
    fresh.adopt({"profiles": [{"call": 7, "fn": "outer", "tree": _tree()}]})
    assert fresh.calls[7]["root"].count == 10


def test_state_json_is_cut_to_what_a_flame_graph_shows() -> None:
    wide = ["", "", 0, 100_000, [[f"f{i}", "/a.py", i, 100_000 - i, []] for i in range(2000)]]
    ps = ProfileState()
    ps.apply({"profiles": [{"call": 1, "fn": "f", "tree": wide}]})
    (call,) = ps.to_json()["calls"]
    assert len(call["tree"][4]) <= JSON_NODES
    assert ps.to_json() is ps.to_json()  # cached until a profile changes


def test_sampler_thread_starts_and_stops() -> None:
    s = Sampler(interval=0.001).start()
    s.call = 3  # the main thread (this test) is not in a task of worker.py: nothing counted
    time.sleep(0.02)
    s.stop()
    s._thread.join(1)
    assert not s._thread.is_alive() and s.take() == []


def test_frame_colours_hash_names_as_the_js_does() -> None:
    from taskscope._snapshot_profile import name_hash

    # the same numbers as js/test/profile.test.js checks for profile-math.js's nameHash
    assert name_hash("hot_helper") == 4063524832
    assert name_hash("é😀") == 1996812


def largest_profile_state() -> ProfileState:
    """20 calls (the State keeps 20), each a wide and deep tree."""
    ps = ProfileState()
    for call in range(1, 21):
        tree = ["", "", 0, 10_000, [[f"fn_{call}_{i}", f"/site-packages/pkg{i}/mod.py", i, 400,
                                     [[f"deep_{j}", "/x.py", j, 399 - j, []] for j in range(30)]]
                                    for i in range(25)]]
        ps.apply({"profiles": [{"call": call, "fn": f"f{call}", "module": "m", "tree": tree}]})
    return ps


def test_snapshot_profile_part_stays_small_for_the_largest_state() -> None:
    from taskscope.snapshot import snapshot_html

    # the largest profile State: the pane is still bounded
    state = {"pool": {"status": "closed", "profile": True},
             "profile": largest_profile_state().to_json()}
    html = snapshot_html(state, panes=["profile"])
    assert 'data-samples="200000"' in html
    assert len(html.encode()) < 30_000
    # and a pool that does not profile shows no profile pane unless asked for
    assert "tss-pane-profile" not in snapshot_html({"pool": {"status": "closed"}})
    assert "Profiling is off" in snapshot_html({"pool": {"status": "closed"}}, panes=["profile"])
