"""Extension points for the Jupyter side (and anyone else): callbacks on pool events.

The pool package must not import Jupyter; the kernel extension registers callbacks here
instead (inline progress bars, the registry of live pools). A failing hook never breaks
the pool: it is reported as a warning.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["add", "registered", "remove", "run"]

HOOK_NAMES = ("pool_created", "call_started", "pool_closing")
_hooks: dict[str, list[Callable[..., Any]]] = {name: [] for name in HOOK_NAMES}


def add(name: str, fn: Callable[..., Any]) -> None:
    if name not in _hooks:
        raise ValueError(f"taskscope: unknown hook {name!r}; known: {', '.join(HOOK_NAMES)}")
    if fn not in _hooks[name]:
        _hooks[name].append(fn)


def remove(name: str, fn: Callable[..., Any]) -> None:
    if fn in _hooks.get(name, ()):
        _hooks[name].remove(fn)


def registered(name: str) -> bool:
    """Whether any callback waits for `name`."""
    return bool(_hooks[name])


def run(name: str, *args: Any) -> None:
    for fn in list(_hooks[name]):
        try:
            fn(*args)
        except Exception as exc:
            warnings.warn(f"taskscope: the {name} hook {fn!r} failed: {exc!r}", RuntimeWarning,
                          stacklevel=2)
