"""taskscope in marimo notebooks: the dashboard as a cell's output, and a bar under every map.

marimo differs from Jupyter in two ways that matter here (research: frontends.md):

- It creates a front-end model for an anywidget only when the widget is a cell's output.
  The hidden code carrier of widgets.py is never displayed, so there it would never run and
  every taskscope widget would wait for code forever. In marimo each widget therefore
  carries its whole module in `_esm` (and the stylesheet in `_css`: marimo draws widgets in
  a shadow root, where a page-wide stylesheet does not reach). marimo serves an `_esm` once
  per hash, so the module still loads once per page, not once per bar.
- It has no IPython extensions, so `%load_ext taskscope` cannot install the per-call bars.
  Importing taskscope inside a running marimo notebook installs them instead: each
  map / imap / starmap appends its bar to the running cell's output (`mo.output.append`),
  which marimo sends at once, while the cell still runs.
"""
from __future__ import annotations

import logging
import sys
from typing import Any

from taskscope.pool import _hooks

__all__ = ["install", "running"]

log = logging.getLogger("taskscope")
PROGRESS_APIS = ("map", "imap", "imap_unordered", "starmap", "executor.map")


def running() -> bool:
    """True inside a running marimo notebook (edit or app mode), not in a plain script
    that merely imports marimo."""
    mo = sys.modules.get("marimo")
    if mo is None:
        return False
    try:
        return bool(mo.running_in_notebook())
    except Exception:  # an older or partial marimo: behave as plain Python
        return False


def _on_call_started(pool: Any, call: Any) -> None:
    if call.api not in PROGRESS_APIS or not running():
        return
    import marimo as mo

    from .widgets import CallProgress

    try:
        mo.output.append(CallProgress.for_pool(pool, call=call.id))
    except Exception:  # never break the user's map for a progress bar
        log.exception("taskscope: could not show a progress bar in marimo")


def install() -> None:
    """Show a progress bar under every map of this marimo notebook (idempotent)."""
    _hooks.add("call_started", _on_call_started)
