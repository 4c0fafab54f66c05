"""GridSearchCV in a notebook (notebooks/joblib-sklearn.ipynb), in JupyterLab and Chromium: its
Parallel calls show in the progress bars and the dashboard under their real names
(``_fit_and_score``), never as joblib's BatchedCalls, with every fit counted."""
from __future__ import annotations

from typing import Any

import pytest

from test_notebooks_browser import (
    compact,
    dashboard,
    expect_bar_done,
    expect_dashboard_drawn,
    no_js_errors,
    open_and_run_all,
    shoot,
)

pytestmark = pytest.mark.browser


def test_grid_search_notebook_jupyterlab(page: Any, lab_server: Any) -> None:
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    took = open_and_run_all(page, lab_server, "joblib-sklearn.ipynb")
    text = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    assert "best {'C': " in text and "scores [" in text, text[:3000]
    assert "BatchedCalls" not in text
    # One bar per Parallel call, named by the function its tasks ran: 4 candidates x 3 folds.
    expect_bar_done(page, "_fit_and_score", 12)
    assert compact(page, "_fit_and_score").count() == 2  # the search, and the forest's folds
    bar = compact(page, "_fit_and_score").first
    # The dashboard shows the same calls, with their counts complete.
    dash = dashboard(page)
    info = expect_dashboard_drawn(page, dash, 2)
    rows = dash.locator('.ts-prow[data-fn]').evaluate_all(
        "(els) => els.map((e) => [e.dataset.fn, Number(e.dataset.done), Number(e.dataset.total)])")
    names = {r[0] for r in rows}
    assert "_fit_and_score" in names and not any("Batched" in n for n in names), rows
    assert ["_fit_and_score", 12, 12] in rows and ["_fit_and_score", 4, 4] in rows, rows
    shoot(page, "lab-joblib-sklearn-page.png")
    shoot(page, "lab-joblib-sklearn-dashboard.png", dash)
    shoot(page, "lab-joblib-sklearn-bar.png",
          bar.locator("xpath=ancestor::div[contains(@class,'jp-Cell ')][1]"))
    print(f"\n[browser] lab joblib-sklearn: all cells ran in {took:.1f} s; dashboard {info}; "
          f"rows {rows}")
    assert not no_js_errors(console), console
