"""Where a call comes from: the function's name, module and file:line, and the user's line.

The call site is the first frame outside taskscope, then ``stacklevel - 1`` frames further out
(see `set_stacklevel`): useful when the pool is wrapped in a helper of the user's own.
"""
from __future__ import annotations

import functools
import linecache
import os
import sys
from typing import Any

__all__ = ["callsite_of", "describe_function", "find_callsite", "get_stacklevel", "set_stacklevel"]

# Frames in this folder are taskscope's own (the pool package); the first other frame is the user's.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_stacklevel = 1


def set_stacklevel(level: int) -> None:
    """Report the caller ``level`` frames out from the first frame outside taskscope (default 1)."""
    global _stacklevel
    if not isinstance(level, int) or level < 1:
        raise ValueError(f"taskscope: stacklevel must be an int >= 1, not {level!r}")
    _stacklevel = level


def get_stacklevel() -> int:
    return _stacklevel


def describe_function(fn: Any) -> dict[str, Any]:
    """Name, module, file and line of a callable (partials and callable objects included)."""
    target = fn
    while isinstance(target, functools.partial):
        target = target.func
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) \
        or type(target).__qualname__
    module = getattr(target, "__module__", None) or type(target).__module__
    code = getattr(target, "__code__", None)
    if code is None and callable(target):  # a callable object: its __call__'s code
        code = getattr(getattr(target, "__call__", None), "__code__", None)
    file = code.co_filename if code is not None else ""
    line = code.co_firstlineno if code is not None else 0
    return {"fn": str(name), "module": str(module), "file": file, "line": line}


def _inside_taskscope(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE_DIR)


def find_callsite() -> dict[str, Any] | None:
    frame = sys._getframe(1)
    while frame is not None and _inside_taskscope(frame.f_code.co_filename):
        frame = frame.f_back
    return callsite_of(frame)


def callsite_of(frame: Any) -> dict[str, Any] | None:
    """The call site `frame` stands for, `set_stacklevel` levels up: file, line, function,
    the line's code. (Callers choose the first frame outside their own code.)"""
    for _ in range(_stacklevel - 1):
        if frame is None or frame.f_back is None:
            break
        frame = frame.f_back
    if frame is None:
        return None
    file, line = frame.f_code.co_filename, frame.f_lineno
    code = linecache.getline(file, line, frame.f_globals).strip()
    return {"file": file, "line": line, "function": frame.f_code.co_name, "code": code[:200]}
