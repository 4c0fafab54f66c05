"""Bad input to the widgets: the right error, and nothing printed after it."""
from __future__ import annotations

import gc
import sys
from typing import Any

import pytest

from taskscope.widgets import Dashboard


def test_unknown_pane_raises_and_leaves_no_exception_ignored_in_del(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Widget.__del__ closes a widget whose __init__ raised: that must not print
    "Exception ignored in: Widget.__del__" under the user's ValueError."""
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(ValueError, match=r"unknown pane\(s\) \['nope'\]; choose from"):
        Dashboard(None, panes=["nope"])  # type: ignore[arg-type]
    gc.collect()
    assert not unraisable, [str(u.exc_value) for u in unraisable]


def test_the_graph_pane_is_a_choice_and_a_near_miss_still_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown pane\(s\) \['graphs'\]; choose from \[.*'graph', 'profile'\]"):
        Dashboard(None, panes=["graphs"])  # type: ignore[arg-type]
