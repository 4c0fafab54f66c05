"""Where a call comes from (pool/callsite.py): the function's identity and the user's line."""
from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Iterator
from typing import Any

import pytest

import taskscope.pool.callsite as callsite
from taskscope.pool import set_stacklevel
from taskscope.pool.callsite import describe_function, find_callsite, get_stacklevel

HERE = os.path.abspath(__file__)


@pytest.fixture(autouse=True)
def _restore_stacklevel() -> Iterator[None]:
    level = get_stacklevel()
    yield
    set_stacklevel(level)


def square(x: int) -> int:
    return x * x


class Scaler:
    def __init__(self, k: int) -> None:
        self.k = k

    def __call__(self, x: int) -> int:
        return self.k * x

    def method(self, x: int) -> int:
        return x


def _line_of(fn: Any) -> int:
    return inspect.getsourcelines(fn)[1]


def test_plain_function() -> None:
    info = describe_function(square)
    assert info == {"fn": "square", "module": __name__, "file": HERE, "line": _line_of(square)}


def test_lambda_and_closure_and_nested_function() -> None:
    k = 3
    lam = lambda x: x + k; lam_line = inspect.currentframe().f_lineno  # noqa: E702, E731

    def inner(x: int) -> int:
        return x * k

    info = describe_function(lam)
    assert info["fn"].endswith("<lambda>") and info["file"] == HERE
    assert info["line"] == lam_line
    info = describe_function(inner)
    assert info["fn"] == "test_lambda_and_closure_and_nested_function.<locals>.inner"
    assert info["line"] == _line_of(inner)


def test_partials_are_unwrapped() -> None:
    part = functools.partial(functools.partial(square), 3)
    assert describe_function(part)["fn"] == "square"
    assert describe_function(part)["line"] == _line_of(square)


def test_callable_object_and_bound_method() -> None:
    info = describe_function(Scaler(2))
    assert info["fn"] == "Scaler" and info["module"] == __name__
    assert info["file"] == HERE and info["line"] == _line_of(Scaler.__call__)
    info = describe_function(Scaler(2).method)
    assert info["fn"] == "Scaler.method" and info["line"] == _line_of(Scaler.method)


def test_builtins_have_no_file() -> None:
    assert describe_function(abs) == {"fn": "abs", "module": "builtins", "file": "", "line": 0}
    info = describe_function(str.upper)
    assert info["fn"] == "str.upper" and info["file"] == "" and info["line"] == 0


def test_callsite_is_the_callers_line() -> None:
    site = find_callsite(); line = inspect.currentframe().f_lineno  # noqa: E702
    assert site == {"file": HERE, "line": line, "function": "test_callsite_is_the_callers_line",
                    "code": "site = find_callsite(); line = inspect.currentframe().f_lineno  # noqa: E702"}


def _run_inside_taskscope(source: str, name: str, namespace: dict[str, Any]) -> Any:
    """Define a function whose code claims a file inside the pool package (as pool.py's do)."""
    fake = os.path.join(os.path.dirname(callsite.__file__), "_fake_for_tests.py")
    exec(compile(source, fake, "exec"), namespace)
    return namespace[name]


def test_frames_inside_taskscope_are_skipped() -> None:
    api = _run_inside_taskscope(
        "def api():\n    return helper()\n"
        "def helper():\n    return find_callsite()\n",
        "api", {"find_callsite": find_callsite})
    site = api(); line = inspect.currentframe().f_lineno  # noqa: E702
    assert site["file"] == HERE and site["line"] == line
    assert site["function"] == "test_frames_inside_taskscope_are_skipped"


def _users_helper(api: Any) -> Any:
    return api()  # a user's own wrapper around the pool


def test_stacklevel_reports_further_out() -> None:
    api = _run_inside_taskscope("def api():\n    return find_callsite()\n", "api",
                                {"find_callsite": find_callsite})
    assert api()["function"] == "test_stacklevel_reports_further_out"
    assert _users_helper(api)["function"] == "_users_helper"
    set_stacklevel(2)
    assert get_stacklevel() == 2
    site = _users_helper(api); line = inspect.currentframe().f_lineno  # noqa: E702
    assert site["function"] == "test_stacklevel_reports_further_out" and site["line"] == line
    set_stacklevel(10_000)  # more levels than frames: the outermost frame, not a crash
    assert find_callsite() is not None


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", None])
def test_bad_stacklevel_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="stacklevel must be an int >= 1"):
        set_stacklevel(bad)
    assert get_stacklevel() == 1


def test_long_source_lines_are_bounded(tmp_path: Any) -> None:
    source = "site = find_callsite()  # " + "x" * 400 + "\n"
    path = tmp_path / "long_line.py"
    path.write_text(source)
    ns: dict[str, Any] = {"find_callsite": find_callsite}
    exec(compile(source, str(path), "exec"), ns)
    assert ns["site"]["file"] == str(path) and ns["site"]["line"] == 1
    assert ns["site"]["code"] == source.strip()[:200]
