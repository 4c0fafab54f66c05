"""The caller's garbage collector while a joblib call runs (pool/joblib.py).

joblib builds its tasks in the caller, a slice of (fn, args, kwargs) triples at a time, and
keeps each slice alive until its batches are handed over. To CPython's collector that is
steady growth: a full collection -- a traversal of every object of the process -- every ~70,000
tasks, whatever the backend. With scikit-learn imported (100,000 objects) that was 260 of the
560 ms of a 200,000-task call, and a notebook's heap is larger still.

So while a ``return_as="list"`` call runs, the objects that existed before it are frozen
(`gc.freeze`): collections skip them, and still collect whatever the call itself makes. They
are unfrozen when the call ends; a cycle of old objects that became garbage meanwhile is
collected then. Left alone: generator calls (the caller may hold one open for as long as it
likes), a collector the user disabled, and objects someone else froze (then we do not know
when to unfreeze). Calls overlapping in several threads share one freeze; the last one to
end unfreezes. (Code that itself calls gc.freeze() while such a call runs has its objects
unfrozen with ours at the end: `gc` cannot tell the two apart.)
"""
from __future__ import annotations

import gc
import threading

__all__ = ["freeze_for_call", "unfreeze_after_call"]

_lock = threading.Lock()
_calls = 0  # calls holding the freeze
_ours = False  # whether the objects in the permanent generation were frozen here


def freeze_for_call() -> bool:
    """Freeze the existing objects for one call, unless that is not ours to do; returns
    whether this call holds the freeze (then it calls `unfreeze_after_call` once)."""
    global _calls, _ours
    with _lock:
        if not _ours:
            if not gc.isenabled() or gc.get_freeze_count():
                return False
            gc.freeze()
            _ours = True
        _calls += 1
        return True


def unfreeze_after_call() -> None:
    global _calls, _ours
    with _lock:
        _calls -= 1
        if _calls == 0 and _ours:
            _ours = False
            gc.unfreeze()
