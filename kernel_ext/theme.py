"""taskscope's colours and labels, from the one source both languages read (theme.json).

The static snapshot (kernel_ext/snapshot.py) is drawn in Python, the live panes in JS; both
take palette, status colours, segment shades, pane titles and resource series from
theme.json, so a saved notebook looks like the live dashboard and the two cannot drift.
The JS gets it as a generated module, js/src/theme-data.js::

    python -m taskscope.theme > js/src/theme-data.js

(tests/unit/test_theme.py fails when that file is stale).
"""
from __future__ import annotations

import functools
import json
import pathlib
from typing import Any

__all__ = ["THEME", "color", "js_module", "rect_color", "rgba", "segment_colors",
           "status_color"]

THEME_JSON = pathlib.Path(__file__).with_name("theme.json")


@functools.cache
def _load() -> dict[str, Any]:
    data = json.loads(THEME_JSON.read_text(encoding="utf-8"))
    data.pop("_comment", None)
    return data


THEME: dict[str, Any] = _load()


def color(i: float | None) -> str:
    """Palette colour of a palette index (as js/src/colors.js `color`)."""
    pal = THEME["palette"]
    if i is None or not isinstance(i, (int, float)) or i != i or i < 0:
        return str(pal[0])
    return str(pal[int(i) % len(pal)])


def rgba(hex_color: str, a: float) -> str:
    """``#rrggbb`` + alpha -> ``rgba(r, g, b, a)`` (as js/src/colors.js `alpha`)."""
    h = hex_color.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    n = int(h, 16)
    return f"rgba({(n >> 16) & 255}, {(n >> 8) & 255}, {n & 255}, {a})"


def status_color(status: str | None) -> str:
    return str(THEME["status"].get(status or "", "#9e9e9e"))


def segment_colors(ci: float | None) -> dict[str, str]:
    """Colours of a progress bar's segments for a palette index (js/src/bars.js)."""
    base = color(ci)
    al = THEME["segment_alpha"]
    return {"released": base, "memory": base,
            "processing": rgba(base, al["processing"]), "queued": rgba(base, al["queued"]),
            "erred": THEME["erred"], "cancelled": THEME["cancelled"]}


def rect_color(ci: float, flags: int) -> str:
    """A task-stream rectangle's colour (flags bit 0 erred, bit 1 cancelled)."""
    if flags & 1:
        return str(THEME["erred"])
    if flags & 2:
        return str(THEME["cancelled"])
    for bit, key in ((4, "transfer"), (8, "disk"), (16, "deserialize")):  # a Dask cluster's
        if flags & bit:
            return str(THEME[key])
    return color(ci)


def js_module() -> str:
    """The text of js/src/theme-data.js."""
    body = json.dumps(_load(), indent=2, ensure_ascii=False)
    return ("// GENERATED from kernel_ext/theme.json by `python -m taskscope.theme`; do not edit.\n"
            "// tests/unit/test_theme.py fails when this file is stale.\n"
            f"export const THEME = {body};\n")


if __name__ == "__main__":
    import sys

    sys.stdout.write(js_module())
