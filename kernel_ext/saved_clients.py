"""Which front ends keep a live output's snapshot, and when the kernel sends it to them.

A live dashboard's saved-notebook snapshot (kernel_ext/saved_output.py) reaches a notebook
file on one of two channels, and each front end needs only one:

    JupyterLab / Notebook 7 with taskscope's renderer   the {"type": "snapshot"} custom
        (js/lab/src/saved.js)                           message, deflated (~3 KB, not ~30)
    nbclient, papermill, VS Code, classic Notebook      update_display_data, which they
                                                        apply across cells

The renderer announces itself through the widget (``{"type": "renderer", "inflate": bool}``,
js/src/saved-link.js); the kernel notes the announcing client's session id (every Jupyter
message header carries it). At the end of a cell run by such a client no snapshot is drawn
on the kernel's main thread: `IdleSnapshots` draws it on its own thread once the kernel has
gone idle (no next cell started within IDLE_SETTLE_S), and JupyterLab's save asks for one
too (``{"type": "request_snapshot"}``, answered when the kernel is idle). A cell run by any
other client (nbclient has no comm front end, so it never announces) gets the display
update synchronously, before the kernel reports idle: nbclient stops reading a cell's
messages there, and after the last cell it shuts the kernel down.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["IDLE_SETTLE_S", "IdleSnapshots", "client_session", "executing_client_has_renderer",
           "inflate_ok", "note_renderer"]

log = logging.getLogger("taskscope")
# After a cell ends, wait this long for the next one before drawing: "Run All" sends every
# cell at once and the next begins within a few ms, so only the run's last cell pays a
# snapshot (a save mid-run gets the periodic one, at most SNAPSHOT_INTERVAL_S old).
IDLE_SETTLE_S = 0.02
MAX_SESSIONS = 64  # clients remembered (a reloaded page is a new one); the oldest go first

_sessions: OrderedDict[str, bool] = OrderedDict()  # client session id -> can inflate
_sessions_lock = threading.Lock()


def client_session() -> str | None:
    """The session id of the client whose request the main thread is handling (an execute
    request in a cell hook, a comm message in a widget's handler); None outside a kernel."""
    try:
        from IPython import get_ipython

        ip = get_ipython()
        kernel = getattr(ip, "kernel", None)
        if kernel is None:
            return None
        parent = kernel.get_parent()
        session = (parent or {}).get("header", {}).get("session")
        return str(session) if session else None
    except Exception:
        log.debug("taskscope: no client session", exc_info=True)
        return None


def note_renderer(content: dict[str, Any]) -> None:
    """A taskscope renderer announced itself from the client of the current comm message."""
    session = client_session()
    if session is None:
        return
    with _sessions_lock:
        _sessions[session] = bool(content.get("inflate"))
        _sessions.move_to_end(session)
        while len(_sessions) > MAX_SESSIONS:
            _sessions.popitem(last=False)


def executing_client_has_renderer() -> bool:
    """Whether the client that ran the current cell draws our view type (JupyterLab or
    Notebook 7 with the labextension), so it needs no display update from this cell."""
    session = client_session()
    with _sessions_lock:
        return session is not None and session in _sessions


def inflate_ok() -> bool:
    """Whether every renderer that announced itself can inflate a deflated snapshot
    (DecompressionStream: every browser JupyterLab 4 supports but Firefox < 113)."""
    with _sessions_lock:
        return all(_sessions.values())


def forget_clients() -> None:
    """Forget every announced renderer (tests)."""
    with _sessions_lock:
        _sessions.clear()


class IdleSnapshots:
    """One daemon thread that sends the end-of-cell snapshots of renderer clients once the
    kernel is idle, off its main thread (ipykernel's iopub sends are thread-safe: the
    collector thread sends widget updates the same way). Nothing scheduled is dropped: a
    snapshot waits while cells run back to back and goes out after the last one."""

    def __init__(self, refresh: Callable[[Any], object]) -> None:
        self._refresh = refresh  # refresh(widget): draw and send if it changed
        self._cond = threading.Condition()
        self._pending: list[Any] = []
        self._cells = 0  # cells started so far (pre_run_cell)
        self._busy = False  # a cell is running
        self._thread: threading.Thread | None = None

    def cell_started(self, *_args: Any) -> None:
        """pre_run_cell: the kernel is busy; pending snapshots wait for the cell's end."""
        with self._cond:
            self._cells += 1
            self._busy = True

    def cell_ended(self, widgets: list[Any]) -> None:
        """post_run_cell: send these widgets' snapshots once the kernel stays idle."""
        with self._cond:
            self._busy = False
            for w in widgets:
                if not any(p is w for p in self._pending):
                    self._pending.append(w)
            if not self._pending:
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="taskscope-snapshots",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._busy or not self._pending:
                    self._cond.wait()
                cells = self._cells
            time.sleep(IDLE_SETTLE_S)
            with self._cond:
                if self._cells != cells:
                    continue  # the next cell began: wait for its end
                batch, self._pending = self._pending, []
            for widget in batch:
                try:
                    self._refresh(widget)
                except Exception:
                    log.exception("taskscope: could not send a snapshot")
