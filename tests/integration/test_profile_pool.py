"""The statistical profiler on real worker processes: `Pool(profile=True)` samples each
running task's stack; `pool.profile()` names where the time went; the `profile` events
(protocol 1.4) build the same trees in a subscriber's State, a late joiner's State and the
static snapshot. Nothing is mocked."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from taskscope.pool import Pool, subscribe
from taskscope.snapshot import snapshot_html
from taskscope.state import State
from taskscope.state_history import state_from_story

SPIN_S = 0.03  # each item's time, nearly all of it in `hot_helper`


# ------------------------------------------------------------------ functions run by workers
def hot_helper(seconds: float) -> int:
    """Where the time goes: a pure-Python loop (holds the GIL, as real work does)."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def cheap_step(x: int) -> int:
    return sum(range(50)) + x


def outer(x: int) -> int:
    cheap_step(x)
    return hot_helper(SPIN_S) and x


def other(x: int) -> int:
    return hot_helper(SPIN_S / 3) and x


@pytest.fixture(name="pool")
def _pool(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[Pool]:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    with Pool(2, profile=True, name="profiled") as pool:
        yield pool


def _path_to_heaviest_leaf(tree: dict[str, Any]) -> list[str]:
    names = []
    while tree["children"]:
        tree = tree["children"][0]
        names.append(tree["name"])
    return names


def _find(tree: dict[str, Any], name: str) -> dict[str, Any] | None:
    if tree["name"] == name:
        return tree
    for c in tree["children"]:
        hit = _find(c, name)
        if hit is not None:
            return hit
    return None


def test_the_profile_of_a_map_names_the_inner_helper(pool: Pool) -> None:
    assert pool.map(outer, range(40)) == list(range(40))
    tree = pool.profile()
    # 40 x 30 ms on 2 workers: ~120 samples of 10 ms; allow a loaded machine's slack
    assert tree["name"] == "all" and tree["count"] >= 40
    path = _path_to_heaviest_leaf(tree)
    assert path[:2] == ["outer", "hot_helper"], path
    helper = _find(tree, "hot_helper")
    assert helper is not None and helper["file"] == __file__
    assert helper["line"] == hot_helper.__code__.co_firstlineno
    assert helper["count"] >= 0.8 * tree["count"]  # the helper holds nearly every sample
    step = _find(tree, "cheap_step")
    assert step is None or step["count"] < helper["count"] / 10
    # nothing of taskscope's own worker loop is in the tree: it starts at the task's function
    assert [c["name"] for c in tree["children"]] == ["outer"]


def test_profiles_per_call_per_function_and_all(pool: Pool) -> None:
    pool.map(outer, range(20))
    pool.map(other, range(30))
    pool.map(outer, range(20))
    first, second, third = (pool.profile(c)["count"] for c in (1, 2, 3))
    assert min(first, second, third) > 0
    assert pool.profile(outer)["count"] == first + third
    assert pool.profile("outer")["count"] == first + third
    assert pool.profile(f"{__name__}.other")["count"] == second
    assert pool.profile()["count"] == first + second + third
    assert pool.profile(2)["name"] == "call 2"
    assert [c["name"] for c in pool.profile(2)["children"]] == ["other"]


def test_bad_calls_get_errors_naming_what_exists(pool: Pool, tmp_path: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pool.map(outer, range(4))
    with pytest.raises(ValueError, match=r"pool 'profiled' has no call 42; .*1 \(outer\)"):
        pool.profile(42)
    with pytest.raises(ValueError, match="ran no call of 'nonesuch'"):
        pool.profile("nonesuch")
    with pytest.raises(TypeError, match=r"call id \(int\), a function or its name"):
        pool.profile(2.5)
    with pytest.raises(TypeError, match="profile must be True or False"):
        Pool(1, profile="yes")  # type: ignore[arg-type]
    with Pool(1) as plain:
        plain.map(cheap_step, range(3))
        with pytest.raises(ValueError, match=r"does not profile.*Pool\(profile=True\)"):
            plain.profile()
        # and a pool that does not profile publishes no profile at all
        st = state_from_story(plain._story(), time.monotonic())
        assert "profile" not in st.to_json() and not st.pool.get("profile")


def test_events_build_the_same_profile_in_a_state_and_for_a_late_joiner(pool: Pool) -> None:
    info = pool.connection_info()
    st = State()
    with subscribe(info["events"], info["key"]) as sub:
        deadline = time.monotonic() + 10
        while not st.seq and time.monotonic() < deadline:
            st.apply_all(sub.recv(timeout=0.2))
        pool.map(outer, range(30))
        end = time.monotonic() + 10
        want = pool.profile(1)["count"]
        while time.monotonic() < end:
            st.apply_all(sub.recv(timeout=0.2))
            calls = st.to_json().get("profile", {}).get("calls", [])
            if calls and calls[0]["samples"] == want:
                break
    js = st.to_json()
    assert js["pool"]["profile"] is True
    (call,) = js["profile"]["calls"]
    assert call["call"] == 1 and call["fn"] == "outer" and call["samples"] == want
    files = js["profile"]["files"]
    outer_node = call["tree"][4][0]
    assert outer_node[0] == "outer" and files[outer_node[1]] == __file__
    assert outer_node[4][0][0] == "hot_helper"
    # a late joiner gets the kept trees in its join snapshot's history
    late = state_from_story(pool._story(), time.monotonic()).to_json()
    assert late["profile"]["calls"][0]["samples"] == want
    # and the static snapshot draws them: the pane, its flame graph and the helper's row
    html = snapshot_html(late)
    assert f'data-samples="{want}"' in html and "hot_helper" in html
    assert "flame graph of the stack samples" in html
    assert len(html.encode()) < 100_000


SCRIPT = '''
import json, sys
from taskscope import Pool

def helper(n):
    a = 0
    for i in range(n):
        a ^= i
    return a

def task(x):
    return helper(300_000)

if __name__ == "__main__":
    with Pool(2, profile=True) as pool:
        pool.map(task, range(12))
        print(json.dumps(pool.profile()))
'''


def test_functions_pickled_by_value_keep_their_file(tmp_path: Any) -> None:
    """A notebook's or a script's functions travel by value (cloudpickle names their file
    "<dynamic-code>"): the profile names the file they were defined in all the same."""
    import json
    import os
    import subprocess
    import sys

    script = tmp_path / "by_value.py"
    script.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    tree = json.loads(out.stdout.strip().splitlines()[-1])
    task = tree["children"][0]
    helper = task["children"][0]
    assert (task["name"], task["file"], task["line"]) == ("task", str(script), 11)
    assert (helper["name"], helper["file"], helper["line"]) == ("helper", str(script), 5)


def test_a_report_block_keeps_the_profiles_of_its_own_calls(pool: Pool) -> None:
    from taskscope.reports import _marks, pool_data

    pool.map(outer, range(10))  # before the block
    marks = _marks(pool._story(rings=False))
    pool.map(other, range(30))
    state = pool_data(pool, marks)["state"]
    assert [c["call"] for c in state["profile"]["calls"]] == [2]
    assert state["profile"]["calls"][0]["samples"] == pool.profile(2)["count"]
    assert [c["call"] for c in pool_data(pool)["state"]["profile"]["calls"]] == [1, 2]


@pytest.mark.parametrize("start_method", ["fork", "spawn"])  # forkserver: the tests above
def test_every_start_method_profiles(start_method: str, monkeypatch: pytest.MonkeyPatch,
                                     tmp_path: Any) -> None:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    with Pool(2, profile=True, start_method=start_method) as pool:
        pool.map(outer, range(12))
        assert _path_to_heaviest_leaf(pool.profile())[:2] == ["outer", "hot_helper"]


def test_a_long_task_is_profiled_while_it_runs(pool: Pool) -> None:
    """A unit running over a second sends its samples on its own, every second (the
    sampler's own socket), not only with its result: its flame graph grows while it runs."""
    fut = pool.submit(hot_helper, 3.0)
    seen = 0
    deadline = time.monotonic() + 30
    while not fut.done() and time.monotonic() < deadline:
        seen = pool.profile()["count"]
        if seen:
            break
        time.sleep(0.1)
    assert seen > 0 and not fut.done(), "no samples arrived while the 3 s task ran"
    assert fut.result(30) > 0
    tree = pool.profile()
    assert [c["name"] for c in tree["children"]] == ["hot_helper"]
    # every sample of the task arrived, counted once (live parts plus the rest at the end)
    assert 200 <= tree["count"] <= 400, tree["count"]
