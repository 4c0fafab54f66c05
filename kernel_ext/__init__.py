"""taskscope: a process pool whose workers you can watch, live, inside the notebook."""
from __future__ import annotations

__version__ = "0.1.0"
