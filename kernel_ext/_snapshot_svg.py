"""The static snapshot's charts: the task stream and the resource sparklines as SVG images.

They are `<img src="data:image/svg+xml,...">`, not inline `<svg>`: JupyterLab's sanitizer
(untrusted notebooks) removes `<svg>` and `<style>` but keeps an `<img>` with a data URI,
and an SVG image never runs a script wherever it is shown (GitHub, nbviewer, nbconvert,
VS Code). Sizes are bounded whatever the ring holds: the task stream is binned into pixel
columns per worker lane and run-length merged (at most MAX_RECTS rectangles), a sparkline
has at most SPARK_POINTS points.
"""
from __future__ import annotations

import array
import math
import urllib.parse
from collections.abc import Sequence
from typing import Any

from .theme import THEME, rect_color

__all__ = ["STREAM_WIDTH_PX", "sparkline_svg", "stream_rects", "stream_svg", "svg_img"]

STREAM_WIDTH_PX = 880  # the lanes' width; the live pane is about as wide in a notebook
LANE_PX, LANE_GAP_PX, LABEL_PX, AXIS_PX = 14, 3, 34, 16
MAX_LANES = 24  # workers drawn; a pool with more shows the busiest (the rest are counted)
MAX_RECTS = 1200  # ~45 bytes each: keeps the stream under ~55 KB, the dashboard under 100 KB
SPARK_W, SPARK_H, SPARK_POINTS = 260, 46, 120


def stream_records(raw: bytes | None) -> array.array[float]:
    """The ring's raw float64 records (docs/state.md): a flat array, 6 values a record."""
    a = array.array("d")
    if raw:
        a.frombytes(raw[: len(raw) - len(raw) % 48])
    return a


def _columns(flat: Sequence[float]) -> tuple[Sequence[float], ...]:
    """start, end, worker, colour, flags columns of flat records (C-speed slicing)."""
    return flat[0::6], flat[1::6], flat[2::6], flat[3::6], flat[5::6]


def stream_rects(flat: Sequence[float], t0: float, t1: float,
                 width: int = STREAM_WIDTH_PX) -> tuple[list[int], list[tuple[int, int, int, str]]]:
    """Bin flat records (6 floats each) into pixel columns per worker lane, keep each
    column's dominant kind (an erred task always shows), and merge runs of equal columns.

    Returns the workers drawn (lane order) and rectangles ``(lane, x0, x1, colour)`` in
    pixels; the column width doubles until at most MAX_RECTS rectangles remain."""
    starts, ends, wids, colours, flags = _columns(flat)
    span = max(t1 - t0, 1e-9)
    busy: dict[int, float] = {}
    for a, b, w in zip(starts, ends, wids, strict=True):
        busy[int(w)] = busy.get(int(w), 0.0) + (b - a)
    workers = sorted(sorted(busy, key=lambda w: -busy[w])[:MAX_LANES])
    lane_of = {float(w): i for i, w in enumerate(workers)}
    # Kinds: the palette index; ERRED_KIND (wins its column however short) or CANCELLED_KIND.
    kinds = [ERRED_KIND if int(f) & 1 else CANCELLED_KIND if int(f) & 2
             else -100.0 - int(f) if int(f) & 28 else c  # Dask transfer/disk/deserialize
             for c, f in zip(colours, flags, strict=True)]
    # Start near the column width that fits MAX_RECTS (a busy lane has about one rectangle
    # per few columns), then double until it does.
    bin_px = 1
    while bin_px < width and len(workers) * width / bin_px > 4 * MAX_RECTS:
        bin_px *= 2
    while True:
        ncols = max(1, width // bin_px)
        scale = ncols / span
        cover: dict[int, dict[float, float]] = {}
        for a, b, w, k in zip(starts, ends, wids, kinds, strict=True):
            lane = lane_of.get(w)
            if lane is None or b < t0 or a > t1:
                continue
            c0 = min(ncols - 1, max(0, int((a - t0) * scale)))
            c1 = min(ncols - 1, int((b - t0) * scale))
            if c0 == c1:  # most tasks: inside one column
                cell = cover.setdefault(lane * ncols + c0, {})
                cell[k] = cell.get(k, 0.0) + (2 * span if k == ERRED_KIND else b - a)
                continue
            for col in range(c0, c1 + 1):  # a long task: its overlap with each column
                lo, hi = t0 + col / scale, t0 + (col + 1) / scale
                cell = cover.setdefault(lane * ncols + col, {})
                cell[k] = cell.get(k, 0.0) + (2 * span if k == ERRED_KIND
                                              else min(b, hi) - max(a, lo))
        rects = _runs(cover, ncols, bin_px)
        if len(rects) <= MAX_RECTS or bin_px >= width:
            return workers, rects
        bin_px *= 2


ERRED_KIND, CANCELLED_KIND = -1.0, -2.0


def _kind_colour(kind: float) -> str:
    if kind == ERRED_KIND:
        return rect_color(0, 1)
    if kind == CANCELLED_KIND:
        return rect_color(0, 2)
    if kind <= -100.0:
        return rect_color(0, int(-100.0 - kind))
    return rect_color(kind, 0)


def _runs(cover: dict[int, dict[float, float]], ncols: int,
          bin_px: int) -> list[tuple[int, int, int, str]]:
    # Any task in a column draws it (the live pane draws a task at least 1 px wide); a
    # column no task touched stays a gap.
    rects: list[tuple[int, int, int, str]] = []
    run: list[Any] | None = None  # [lane, first col, last col, kind]
    for cell_id in sorted(cover):
        cell = cover[cell_id]
        kind = max(cell, key=cell.__getitem__)
        lane, col = divmod(cell_id, ncols)
        if run is not None and run[0] == lane and run[2] == col - 1 and run[3] == kind:
            run[2] = col
            continue
        if run is not None:
            rects.append((run[0], run[1] * bin_px, (run[2] + 1) * bin_px, _kind_colour(run[3])))
        run = [lane, col, col, kind]
    if run is not None:
        rects.append((run[0], run[1] * bin_px, (run[2] + 1) * bin_px, _kind_colour(run[3])))
    return rects


def _nice_step(span: float, ticks: int = 6) -> float:
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def tick_label(s: float, step: float) -> str:
    """Axis label of a time offset (as js/src/format.js `tickLabel`)."""
    a = abs(s)
    if step >= 60 or a >= 600:
        v = int(a)
        h, m = v // 3600, (v % 3600) // 60
        out = f"{h}:{m:02d}:{v % 60:02d}" if h else f"{m:02d}:{v % 60:02d}"
    elif step >= 1:
        out = f"{round(a)}s"
    else:
        d = min(6, max(0, math.ceil(-math.log10(step) - 1e-9)))
        out = f"{a * 1e3:.{max(0, d - 3)}f}ms" if step < 1e-3 else f"{a:.{d}f}s"
    return ("−" if s < 0 and a > 0 else "") + out


def _svg(width: int, height: int, body: str) -> str:
    light = THEME["light"]
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}' font-family='system-ui,sans-serif' font-size='10' "
            f"fill='{light['fg2']}'>{body}</svg>")


def stream_svg(records: Sequence[float], t0: float, t1: float,
               names: dict[int, str] | None = None) -> tuple[str, int, int]:
    """The task stream as SVG text; also the number of rectangles drawn and the SVG height."""
    workers, rects = stream_rects(records, t0, t1)
    light = THEME["light"]
    lanes = max(1, len(workers))
    height = lanes * (LANE_PX + LANE_GAP_PX) + AXIS_PX
    width = LABEL_PX + STREAM_WIDTH_PX + 4
    parts = []
    for i, w in enumerate(workers):
        y = i * (LANE_PX + LANE_GAP_PX)
        parts.append(f"<rect x='{LABEL_PX}' y='{y}' width='{STREAM_WIDTH_PX}' height='{LANE_PX}' "
                     f"fill='{light['bg2']}'/><text x='0' y='{y + LANE_PX - 3}'>"
                     f"{(names or {}).get(w, f'w{w}')}</text>")
    # One <path> per colour: a rectangle is then ~15 bytes ("M12 34h5v14h-5z"), not ~60.
    by_colour: dict[str, list[str]] = {}
    for lane, x0, x1, colour in rects:
        y = lane * (LANE_PX + LANE_GAP_PX)
        by_colour.setdefault(colour, []).append(f"M{LABEL_PX + x0} {y}h{x1 - x0}v{LANE_PX}h{x0 - x1}z")
    for colour, ds in by_colour.items():
        extra = (f" stroke='{THEME['erred_outline']}' stroke-width='0.8'"
                 if colour == THEME["erred"] else "")
        parts.append(f"<path fill='{colour}'{extra} d='{''.join(ds)}'/>")
    span = t1 - t0
    if span > 0:
        step = _nice_step(span)
        axis_y = lanes * (LANE_PX + LANE_GAP_PX)
        t = 0.0
        while t <= span + 1e-9:
            x = LABEL_PX + t / span * STREAM_WIDTH_PX
            label = (f"<text x='{x + 2:.1f}' y='{axis_y + 11}'>{tick_label(t, step)}</text>"
                     if x + 30 <= width else "")  # no label cut by the right edge
            parts.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='0' y2='{axis_y}' "
                         f"stroke='{light['grid']}'/>{label}")
            t += step
    return _svg(width, height, "".join(parts)), len(rects), height


def sparkline_svg(series: Sequence[tuple[Sequence[tuple[float, float]], str]],
                  ymax: float | None = None) -> str:
    """Resource series ``[(points, colour), ...]`` as filled lines on one scale, each
    downsampled to SPARK_POINTS points."""
    light = THEME["light"]
    bg = f"<rect width='{SPARK_W}' height='{SPARK_H}' fill='{light['bg2']}'/>"
    series = [(_downsample(pts), c) for pts, c in series if len(pts) >= 2]
    if not series:
        return _svg(SPARK_W, SPARK_H, bg)
    t0 = min(pts[0][0] for pts, _ in series)
    t1 = max(pts[-1][0] for pts, _ in series)
    top = max([ymax or 0.0, 1e-9] + [v for pts, _ in series for _, v in pts])
    sx = SPARK_W / max(t1 - t0, 1e-9)
    parts = [bg]
    for pts, colour in series:
        coords = " ".join(f"{(t - t0) * sx:.1f},{SPARK_H - 1 - v / top * (SPARK_H - 3):.1f}"
                          for t, v in pts)
        parts.append(f"<polygon fill='{colour}' fill-opacity='0.18' "
                     f"points='{(pts[0][0] - t0) * sx:.1f},{SPARK_H} {coords} "
                     f"{(pts[-1][0] - t0) * sx:.1f},{SPARK_H}'/><polyline fill='none' "
                     f"stroke='{colour}' stroke-width='1.3' points='{coords}'/>")
    return _svg(SPARK_W, SPARK_H, "".join(parts))


def _downsample(points: Sequence[tuple[float, float]]) -> Sequence[tuple[float, float]]:
    if len(points) <= SPARK_POINTS:
        return points
    stride = len(points) / SPARK_POINTS
    return [points[int(i * stride)] for i in range(SPARK_POINTS)] + [points[-1]]


def svg_img(svg: str, alt: str, **attrs: Any) -> str:
    """An `<img>` of an SVG as a data URI: percent-encoding only what a URI needs (smaller
    than base64); the SVG uses single quotes so the src attribute can use double ones."""
    uri = "data:image/svg+xml," + urllib.parse.quote(svg, safe=" ='/:,.-;()!*_~")
    extra = "".join(f' {k.rstrip("_").replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<img src="{uri}" alt="{alt}"{extra}>'
