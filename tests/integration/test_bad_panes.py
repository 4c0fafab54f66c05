"""An unknown pane name: a clear ValueError naming it and the choices, and nothing else
(no "Exception ignored in: Widget.__del__" from the half-made widget afterwards)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import gc
from taskscope import Pool
from taskscope.widgets import Dashboard
with Pool(1) as pool:
    try:
        Dashboard.for_pool(pool, panes=["progress", "tasks-stream"])
    except ValueError as exc:
        print("ValueError:", exc)
    gc.collect()
print("end")
"""


def test_unknown_pane_raises_once_and_cleanly(tmp_path: Path) -> None:
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert "unknown pane(s) ['tasks-stream']" in r.stdout and "'task-stream'" in r.stdout, r.stdout
    assert r.stdout.rstrip().endswith("end")
    assert "Exception ignored" not in r.stderr and "Traceback" not in r.stderr, r.stderr
