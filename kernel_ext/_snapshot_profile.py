"""The profile pane of the static snapshot: the State's stack samples (state_profile.py) as
an icicle (the task's function on top, what it called below; widths are shares of samples)
in an SVG image, and the hottest functions as a table, as js/src/profile.js draws them.

Bounded (the snapshot stays under ~100 KB): at most MAX_BOXES boxes, none thinner than
MIN_SHARE of the samples nor deeper than MAX_DEPTH, and HOT_ROWS rows. The arithmetic is
js/src/profile-math.js's (`hottest`: own samples, ties by total), ported.
"""
from __future__ import annotations

import html
from typing import Any

from taskscope.pool.profiler import Node, merge_wire

from . import _format as fmt
from ._snapshot_svg import svg_img
from .theme import color, rgba

__all__ = ["profile_pane"]

WIDTH = 960  # px of the image; the snapshot's column is 1,000 px at most
ROW = 16  # px per frame
MAX_DEPTH = 14
MIN_SHARE = 0.01  # boxes under 1 % of the samples (under 10 px) are left out
MAX_BOXES = 150
HOT_ROWS = 8
CHAR_PX = 6.6  # an 11 px monospace character, to fit labels in their boxes
esc = html.escape


def _merged(profile: dict[str, Any]) -> Node:
    """All calls' trees in one, file indices turned back into paths (as the pane's "all")."""
    files = profile.get("files") or []

    def unindexed(n: list[Any]) -> list[Any]:
        name, fi, line, count, children = n
        file = files[fi] if isinstance(fi, int) and 0 <= fi < len(files) else ""
        return [name, file, line, count, [unindexed(c) for c in children]]

    root = Node()
    for c in profile.get("calls") or ():
        try:
            merge_wire(root, unindexed(c["tree"]))
        except (KeyError, TypeError, ValueError):
            continue  # a malformed entry is left out, not raised into the notebook
    return root


def _boxes(root: Node) -> list[tuple[float, float, int, tuple[str, str, int]]]:
    """(x, width, depth, key) of each box drawn, x and width as fractions of the samples."""
    out: list[tuple[float, float, int, tuple[str, str, int]]] = []

    def walk(node: Node, key: tuple[str, str, int], x: float, depth: int) -> None:
        w = node.count / root.count
        if w < MIN_SHARE or depth > MAX_DEPTH or len(out) >= MAX_BOXES:
            return
        out.append((x, w, depth, key))
        cx = x
        for ckey, child in sorted(node.children.items(), key=lambda kv: (kv[0][0], kv[0][2])):
            walk(child, ckey, cx, depth + 1)
            cx += child.count / root.count

    walk(root, ("all", "", 0), 0.0, 0)
    return out


def hottest(root: Node, n: int = HOT_ROWS) -> list[dict[str, Any]]:
    """Functions by own samples (running, not calling), then by total samples (on the
    stack; a recursive function counted once per sample)."""
    rows: dict[tuple[str, str, int], dict[str, Any]] = {}

    def walk(node: Node, above: frozenset[Any]) -> None:
        for key, child in node.children.items():
            r = rows.setdefault(key, {"name": key[0], "file": key[1], "line": key[2],
                                      "self": 0, "total": 0})
            r["self"] += max(0, child.count - sum(g.count for g in child.children.values()))
            if key not in above:
                r["total"] += child.count
            walk(child, above | {key})

    walk(root, frozenset())
    ranked = sorted((r for r in rows.values() if r["self"] > 0),
                    key=lambda r: (-r["self"], -r["total"]))
    return ranked[:n]


def _short(file: str) -> str:
    bits = file.replace("\\", "/").split("/")
    return "…/" + "/".join(bits[-2:]) if len(bits) > 2 else file


def name_hash(name: str) -> int:
    """A frame's palette index from its function's name (js/src/profile-math.js `nameHash`)."""
    h = 0
    units = name.encode("utf-16-le")  # UTF-16 code units, as JS's charCodeAt
    for i in range(0, len(units), 2):
        h = (h * 31 + int.from_bytes(units[i:i + 2], "little")) & 0xFFFFFFFF
    return h


def _icicle(root: Node) -> tuple[str, int]:
    boxes = _boxes(root)
    depth = max((b[2] for b in boxes), default=0)
    parts = []
    for x, w, d, key in boxes:
        px, pw = x * WIDTH, max(1.0, w * WIDTH - 1)
        fill = "#8a8f98" if d == 0 else color(name_hash(key[0]))
        parts.append(f"<rect x='{px:.1f}' y='{d * ROW}' width='{pw:.1f}' height='{ROW - 1}' "
                     f"rx='2' fill='{rgba(fill, 0.85)}'/>")
        label = key[0]
        fits = int((pw - 6) / CHAR_PX)
        if fits >= 3:
            text = label if len(label) <= fits else label[: fits - 1] + "…"
            parts.append(f"<text x='{px + 3:.1f}' y='{d * ROW + 11.5}' font-size='11' "
                         f"font-family='monospace' fill='#111111'>{esc(text, quote=True)}</text>")
    height = (depth + 1) * ROW
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height}' "
           f"viewBox='0 0 {WIDTH} {height}'>{''.join(parts)}</svg>")
    return svg, len(boxes)


def profile_pane(state: dict[str, Any], pane: Any, muted: str) -> str:
    """The pane's HTML; `pane(name, body, extra, **data)` is the snapshot's card."""
    profile = state.get("profile") or {}
    root = _merged(profile)
    if not root.count:
        on = (state.get("pool") or {}).get("profile")
        text = ("No samples yet." if on else
                "Profiling is off: create the pool with Pool(profile=True).")
        return pane("profile", f'<div style="{muted}">{text}</div>', samples=0)
    interval = float(profile.get("interval") or 0.01)
    calls = profile.get("calls") or []
    whose = f"#{calls[0]['call']} {calls[0]['fn']}" if len(calls) == 1 else f"all {len(calls)} calls"
    extra = (f' <span style="font-weight: normal; {muted}">{esc(whose)} · {fmt.count(root.count)} '
             f"samples · {fmt.duration(root.count * interval)} of task time</span>")
    svg, n_boxes = _icicle(root)
    img = svg_img(svg, "flame graph of the stack samples",
                  style="display: block; width: 100%; max-width: 960px; height: auto")
    cell = "padding: 2px 8px 2px 0; text-align: left; white-space: nowrap"
    head = "".join(f'<th style="{cell}; font-weight: 500; {muted}">{t}</th>'
                   for t in ("hottest function", "file:line", "own", "total"))
    rows = "".join(
        f'<tr><td style="{cell}; font-family: monospace">{esc(r["name"][:60])}</td>'
        f'<td style="{cell}; {muted}">{esc(_short(r["file"]))}:{r["line"]}</td>'
        f'<td style="{cell}; text-align: right">{fmt.percent(r["self"] / root.count)}</td>'
        f'<td style="{cell}; text-align: right">{fmt.percent(r["total"] / root.count)}</td></tr>'
        for r in hottest(root))
    table = (f'<table style="border-collapse: collapse; margin-top: 6px; '
             f'font-variant: tabular-nums"><tr>{head}</tr>{rows}</table>')
    return pane("profile", img + table, extra, samples=root.count, boxes=n_boxes)
