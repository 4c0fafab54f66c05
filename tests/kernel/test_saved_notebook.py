"""What a notebook executed by nbclient (papermill, CI, `jupyter execute`) keeps: a real
kernel runs twenty maps (one failing) under a dashboard, and the file written afterwards
holds static snapshots for finished bars, the dashboard's latest snapshot beside its
widget, and stays small. The sizes are printed and quoted in the README."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.kernel

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
VIEW_MIME = "application/vnd.taskscope.view+json"
SETUP = """%load_ext taskscope
import time
from taskscope import Pool

def square(x):
    time.sleep(0.0005)
    return x * x

def parse(x):
    if x % 9 == 4:
        raise ValueError(f"cannot parse item {x}")
    return x

pool = Pool(2, name="twenty-maps")
display(pool.dashboard())"""
FAILING = "try:\n    pool.map(parse, range(40))\nexcept ValueError as exc:\n    print('caught:', exc)"
N_MAPS = 20


def run_notebook(tmp_path: Path, close: bool) -> tuple[dict[str, Any], int]:
    cells = [SETUP] + [f"r = pool.map(square, range({100 + 10 * i}))" for i in range(N_MAPS - 1)]
    cells.append(FAILING)
    if close:
        cells.append("pool.shutdown()")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = tmp_path / f"twenty-maps-{'closed' if close else 'live'}.ipynb"
    nbformat.write(nb, path)
    return json.loads(path.read_text()), path.stat().st_size


def outputs(nb: dict[str, Any]) -> list[dict[str, Any]]:
    """display_data outputs, their multi-line strings (as the file stores them) joined."""
    outs = [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "display_data"]
    for o in outs:
        o["data"] = {k: "".join(v) if isinstance(v, list) else v for k, v in o["data"].items()}
    return outs


@pytest.mark.parametrize("close", [False, True], ids=["pool-live", "pool-closed"])
def test_saved_notebook_with_twenty_maps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         close: bool) -> None:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    nb, size = run_notebook(tmp_path, close)
    outs = outputs(nb)
    bars = [o for o in outs if "tss-compact" in o["data"].get("text/html", "")]
    dash = [o for o in outs if "tss-root" in o["data"].get("text/html", "")]
    assert len(bars) == N_MAPS and len(dash) == 1, [sorted(o["data"]) for o in outs]
    # Every finished bar is its snapshot alone: nothing for a reopened notebook to miss.
    for o in bars:
        assert WIDGET_MIME not in o["data"] and VIEW_MIME not in o["data"], sorted(o["data"])
        assert 'data-status="done"' in o["data"]["text/html"] or \
            'data-status="erred"' in o["data"]["text/html"]
    html = dash[0]["data"]["text/html"]
    # The dashboard (cell 1) was brought up to date after the last cell (post_run_cell
    # update_display_data, which nbclient applies across cells).
    assert "cannot parse item 4" in html and 'data-fn="parse"' in html, html[:500]
    if close:
        assert WIDGET_MIME not in dash[0]["data"] and 'data-pool-status="closed"' in html
    else:
        assert {WIDGET_MIME, VIEW_MIME} <= set(dash[0]["data"])
        assert 'data-pool-status="running"' in html
    widget_state = json.dumps(nb["metadata"].get("widgets", {}))
    # What JupyterLab saves (its "save widget state" setting is off by default): no
    # metadata.widgets. Written as nbformat writes it.
    plain = dict(nb, metadata={k: v for k, v in nb["metadata"].items() if k != "widgets"})
    lab_size = len(json.dumps(plain, indent=1, ensure_ascii=False).encode()) + 1
    bar_bytes = sum(len(o["data"]["text/html"].encode()) for o in bars)
    print(f"\n[saved] twenty maps + dashboard, pool {'closed' if close else 'live'}: notebook "
          f"{size} bytes; dashboard snapshot {len(html.encode())} bytes; 20 bar snapshots "
          f"{bar_bytes} bytes; saved widget state {len(widget_state)} bytes; without it (as "
          f"JupyterLab saves) {lab_size} bytes")
    assert size < 400_000 and lab_size < 150_000, (size, lab_size)


def test_dashboard_displayed_after_close_is_static(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A closed pool's dashboard displayed later never moves again: it is displayed as its
    snapshot, with no widget for a reopened notebook to miss."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    cells = [SETUP.replace("display(pool.dashboard())", "pool.map(square, range(50))"),
             FAILING, "pool.shutdown()", "display(pool.dashboard())"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    last = [o for o in nb.cells[-1].outputs if o["output_type"] == "display_data"]
    assert len(last) == 1 and not [o for o in nb.cells[-1].outputs if o["output_type"] == "error"]
    data = last[0]["data"]
    assert WIDGET_MIME not in data and VIEW_MIME not in data, sorted(data)
    assert 'data-pool-status="closed"' in data["text/html"] and "cannot parse item 4" in data["text/html"]
