"""How a joblib call is named in the dashboards: the function its tasks run, the user's line."""
from __future__ import annotations

import functools
import os
import sys
import sysconfig
from typing import Any

import joblib

from .callsite import callsite_of

__all__ = ["task_function", "user_callsite"]

def task_function(fn: Any) -> Any:
    """The function a joblib task runs, under the wrappers around it: functools.partial,
    scikit-learn's _FuncWrapper (update_wrapper sets __wrapped__), joblib.Memory's cache."""
    for _ in range(20):
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif getattr(fn, "__wrapped__", None) is not None:
            fn = fn.__wrapped__
        elif type(fn).__name__ in ("_FuncWrapper", "MemorizedFunc", "NotMemorizedFunc") \
                and callable(getattr(fn, "function", getattr(fn, "func", None))):
            fn = getattr(fn, "function", None) or fn.func
        else:
            break
    return fn


# taskscope's pool package (this folder) and joblib's.
_OWN_DIRS = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep
                  for m in (sys.modules[__name__], joblib))
_LIBRARY_DIRS = tuple({os.path.abspath(p) + os.sep for key in ("stdlib", "purelib", "platlib")
                       if (p := sysconfig.get_paths().get(key))})


def user_callsite() -> dict[str, Any] | None:
    """The user's line: the first frame outside taskscope, joblib and installed libraries
    (scikit-learn's GridSearchCV.fit -> the notebook line calling fit); failing that, the
    first frame outside taskscope and joblib."""
    frame = sys._getframe(1)
    first_outside = None
    while frame is not None:
        file = os.path.abspath(frame.f_code.co_filename)
        if not file.startswith(_OWN_DIRS):
            if first_outside is None:
                first_outside = frame
            if not file.startswith(_LIBRARY_DIRS) and not file.startswith("<frozen"):
                break
        frame = frame.f_back
    return callsite_of(frame or first_outside)


