"""The static snapshot's task graph: the State's `graph` part as an SVG image (no script).

Bounded as every snapshot part: a graph of at most MAX_SNAPSHOT_TASKS single tasks is drawn
task by task; a bigger one (or a State that sends task groups) is drawn as its groups, one
box per function with a bar of its state counts, edges labelled with the task edges they
stand for. Layers are the longest path from the inputs, as in the live pane
(js/src/graph-layout.js); the snapshot keeps each layer in submission order (no crossing
reduction: a few hundred nodes read well without it).
"""
from __future__ import annotations

from typing import Any

from ._snapshot_svg import _svg
from .theme import THEME, color

__all__ = ["MAX_SNAPSHOT_TASKS", "counts_text", "graph_svg"]

MAX_SNAPSHOT_TASKS = 150  # ~25 bytes a node and an edge: the image stays under ~10 KB
WIDTH_PX = 880
LAYER_PX = 34
STATES: list[str] = list(THEME["graph_states"])


def counts_text(counts: dict[str, int]) -> str:
    """'3 processing · 10 memory', in the order of Dask's states (as the live pane)."""
    return " · ".join(f"{counts[s]:,}".replace(",", "\u202f") + f" {s}"
                      for s in STATES if counts.get(s))


def _layers(n: int, edges: list[int]) -> list[int]:
    """Longest-path layers; the State lists every node after its inputs."""
    layer = [0] * n
    for k in range(0, len(edges) - 1, 2):
        a, b = edges[k], edges[k + 1]
        if 0 <= a < n and 0 <= b < n and a != b:
            layer[b] = max(layer[b], layer[a] + 1)
    return layer


def _positions(layer: list[int]) -> tuple[list[float], list[float], float, float]:
    rows: dict[int, list[int]] = {}
    for i, lv in enumerate(layer):
        rows.setdefault(lv, []).append(i)
    widest = max((len(r) for r in rows.values()), default=1)
    slot = WIDTH_PX / widest
    xs, ys = [0.0] * len(layer), [0.0] * len(layer)
    for lv, row in rows.items():
        off = (WIDTH_PX - slot * len(row)) / 2
        for k, i in enumerate(row):
            xs[i], ys[i] = off + k * slot, lv * LAYER_PX
    return xs, ys, slot, (max(rows) + 1 if rows else 1) * LAYER_PX


def graph_svg(graph: dict[str, Any]) -> tuple[str, int, str]:
    """(SVG text, nodes drawn, "tasks" | "groups") of a State's `graph` part."""
    nodes = graph.get("nodes")
    colours = THEME["graph_states"]
    if graph.get("mode") == "tasks" and nodes and len(nodes["id"]) <= MAX_SNAPSHOT_TASKS:
        n, edges, mode = len(nodes["id"]), list(nodes.get("edges", [])), "tasks"
    else:
        groups = graph.get("groups", [])
        index = {g["call"]: i for i, g in enumerate(groups)}
        n, mode = len(groups), "groups"
        edges = [v for a, b, _c in graph.get("group_edges", []) if a in index and b in index
                 for v in (index[a], index[b])]
    xs, ys, slot, height = _positions(_layers(n, edges))
    w, h = max(2.0, slot * 0.8), 16.0 if mode == "groups" else 12.0
    parts = []
    lines = "".join(f"M{xs[a] + w / 2:.0f} {ys[a] + h:.0f}L{xs[b] + w / 2:.0f} {ys[b]:.0f}"
                    for a, b in zip(edges[0::2], edges[1::2]))
    if lines:
        parts.append(f"<path fill='none' stroke='{THEME['light']['fg3']}' d='{lines}'/>")
    if mode == "tasks":
        by_state: dict[int, list[str]] = {}
        for i, code in enumerate(nodes["state"]):
            by_state.setdefault(code, []).append(f"M{xs[i]:.0f} {ys[i]:.0f}h{w:.0f}v{h:.0f}h-{w:.0f}z")
        for code, ds in by_state.items():
            state = STATES[code] if 0 <= code < len(STATES) else "waiting"
            extra = (f" stroke='{THEME['erred_outline']}'" if state == "erred" else "")
            parts.append(f"<path fill='{colours[state]}'{extra} d='{''.join(ds)}'/>")
    else:
        for i, g in enumerate(graph.get("groups", [])):
            total = sum(g["counts"].get(s, 0) for s in STATES) or 1
            x = xs[i]
            for s in STATES:
                v = g["counts"].get(s, 0)
                if v:
                    parts.append(f"<rect x='{x:.1f}' y='{ys[i]:.0f}' width='{w * v / total:.1f}' "
                                 f"height='{h:.0f}' fill='{colours[s]}'/>")
                    x += w * v / total
            parts.append(f"<rect x='{xs[i]:.1f}' y='{ys[i]:.0f}' width='{w:.1f}' height='{h:.0f}' "
                         f"fill='none' stroke='{color(g.get('color'))}' stroke-width='2'/>"
                         f"<text x='{xs[i] + 3:.1f}' y='{ys[i] + h + 10:.0f}'>"
                         f"{_text(g['fn'])} · {g.get('submitted', 0)}</text>")
    return _svg(WIDTH_PX, int(height), "".join(parts)), n, mode


def _text(s: str) -> str:
    s = s if len(s) <= 30 else s[:29] + "…"
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&apos;")
