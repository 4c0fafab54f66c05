"""A text progress bar for terminals (IPython in a terminal, or `progress=True` in a script).

It reads the driver's counters of one call a few times a second; no events, no Jupyter.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

__all__ = ["TextProgress"]

REFRESH_S = 0.1  # ten redraws a second, as tqdm does by default
BAR_WIDTH = 30


class TextProgress(threading.Thread):
    """Draws ``fn  [#####-----]  512/1000  1.2k it/s  ETA 0:03`` on one line until the call ends."""

    def __init__(self, call: Any, stream: TextIO | None = None) -> None:
        super().__init__(name=f"taskscope-progress-{call.id}", daemon=True)
        self.call = call
        self.stream = stream or sys.stderr
        self.started = time.monotonic()

    def line(self) -> str:
        c = self.call
        done = c.done + c.erred
        total = c.total
        elapsed = max(1e-9, time.monotonic() - self.started)
        rate = done / elapsed
        if total:
            filled = int(BAR_WIDTH * min(1.0, done / total))
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            eta = (total - done) / rate if rate > 0 else 0.0
            tail = f"{done}/{total}  {rate:,.0f} it/s  ETA {eta:4.1f}s"
        else:
            bar = "?" * BAR_WIDTH
            tail = f"{done}  {rate:,.0f} it/s"
        err = f"  {c.erred} erred" if c.erred else ""
        return f"{c.info['fn'][:20]:<20} [{bar}] {tail}{err}"

    def run(self) -> None:
        while not self.call.complete:
            self.stream.write("\r" + self.line())
            self.stream.flush()
            time.sleep(REFRESH_S)
        self.stream.write("\r" + self.line() + f"  ({self.call.status})\n")
        self.stream.flush()
