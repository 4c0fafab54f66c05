"""`FailedTask`: a failed item, kept by the pool so it can be looked at and re-run locally."""
from __future__ import annotations

from typing import Any

from . import _pickle

__all__ = ["FailedTask"]


class FailedTask:
    """One failed item of a call: its exception (with the worker's traceback as
    ``__cause__``), and a way to re-run it in this process, e.g. under ``%debug``.

    Attributes
    ----------
    call, index, fn_name, exception
    """

    def __init__(self, pool: Any, call: Any, index: int, exception: BaseException) -> None:
        self.call = call.id
        self.api = call.api
        self.index = index
        self.fn_name = call.info["fn"]
        self.exception = exception
        self._fn_frames = call.fn_frames
        self._mode = call.mode
        self._arg: Any = call.failed_inputs.get(index, _MISSING)

    def __repr__(self) -> str:
        return (f"<FailedTask {self.fn_name} item {self.index} of call {self.call}: "
                f"{type(self.exception).__name__}: {_pickle.bounded_repr(str(self.exception), 120)}>")

    @property
    def traceback(self) -> str:
        """The worker's traceback text."""
        return str(self.exception.__cause__ or "")

    def rerun(self, arg: Any = None) -> Any:
        """Call the function here, in this process, on the failing input (or on `arg`).

        The exception then happens locally, so ``%debug`` or ``pdb.pm()`` can inspect it.
        """
        if arg is None:
            arg = self._arg
        if arg is _MISSING:
            raise ValueError("taskscope: this failure's input was not kept; pass it: "
                             "failure.rerun(arg)")
        if self._mode == "batch":  # a batch call's item is its own (fn, args, kwargs)
            fn, args, kwargs = arg
            return fn(*args, **kwargs)
        fn = _pickle.loads(self._fn_frames)
        return fn(*arg) if self._mode == "star" else fn(arg)


_MISSING = object()
