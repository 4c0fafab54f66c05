"""A profiling pool in a real IPython kernel (jupyter_client): the dashboard's `state`
carries the profile while the cell runs, it names the notebook's own helper and the cell's
file (a notebook's functions travel by value), and the saved-notebook snapshot draws it.

Run:  .venv/bin/python -m pytest -m kernel tests/kernel/test_kernel_profile.py
"""
from __future__ import annotations

import pytest
from test_kernel_widget import WIDGET_MIME, Kernel, anywidget_opens, kernel, state_updates  # noqa: F401

pytestmark = pytest.mark.kernel

SETUP = """\
import time
from taskscope import Pool
pool = Pool(2, name="kprof", profile=True)

def helper(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

def work(x):
    helper(0.02)
    return x
"""


def test_dashboard_state_carries_the_profile_of_notebook_functions(kernel: Kernel) -> None:  # noqa: F811
    kernel.ok(SETUP)
    show = kernel.ok("dash = pool.dashboard()\ndisplay(dash)")
    (dash,) = [cid for cid, st in anywidget_opens(show).items() if st.get("call") is None]
    run = kernel.ok("r = pool.map(work, range(150), chunksize=1)", linger=1.0)
    during = [s for s in state_updates(run.before_idle(), dash) if s.get("profile")]
    assert during, "no profile in the dashboard's state while the cell ran"
    final = state_updates(run.msgs, dash)[-1]
    assert final["pool"]["profile"] is True
    (call,) = [c for c in final["profile"]["calls"]]
    counted = kernel.ok("print(pool.profile()['count'])").stdout().strip()
    assert call["samples"] == int(counted) > 50
    files = final["profile"]["files"]
    work = call["tree"][4][0]
    helper = work[4][0]
    assert (work[0], helper[0]) == ("work", "helper")
    # the cell's file (ipykernel's /tmp/ipykernel_<pid>/<hash>.py), not "<dynamic-code>"
    assert files[helper[1]].endswith(".py") and "ipykernel" in files[helper[1]]
    # the display's text/html (what a saved notebook keeps) draws the profile pane
    displays = [m for m in show.of_type("display_data")
                if m["content"]["data"].get(WIDGET_MIME, {}).get("model_id") == dash]
    display_id = displays[0]["content"]["transient"]["display_id"]
    updates = [m for m in run.of_type("update_display_data")
               if m["content"]["transient"]["display_id"] == display_id]
    assert updates, "no update_display_data of the dashboard's snapshot"
    html = updates[-1]["content"]["data"]["text/html"]
    assert "tss-pane-profile" in html and "helper" in html
    kernel.ok("pool.shutdown()", linger=0.3)
