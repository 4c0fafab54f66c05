"""The static snapshot's parts for #14's items 3 and 5: memory by function and saturation.

    state["memory_by_function"] ──▶ memory_functions_html(): a bar per function (memory pane)
    stream records + workers    ──▶ bin_saturation() ──▶ saturation_html(): a stacked area
                                    (the same binning as js/src/saturation.js)

Both are bounded whatever the pool ran: at most SHOWN_FUNCTIONS rows, and the area has
SATURATION_BINS points per worker for at most MAX_BANDS workers (the rest summed into one
band), so they add a few KB to the snapshot. (Transfer bars need nothing here: the task
stream's SVG already colours flags bit 2 red, as the live pane does.)
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from . import _format as fmt
from ._snapshot_svg import _svg, svg_img
from .theme import THEME, color

__all__ = ["bin_saturation", "memory_functions_html", "saturation_html"]

SHOWN_FUNCTIONS = 6  # fewer than the live pane's 12: the snapshot's 100 KB are shared
SATURATION_BINS = 120  # as js/src/saturation.js (the live chart's bins)
SNAPSHOT_BINS = 60  # the snapshot's: a point per ~9 px keeps the image ~1 KB a band
MAX_BANDS = 8  # a band per worker up to this many; more workers are drawn as one total area
SAT_W, SAT_H = 560, 60
NOT_COMPUTE = 4 | 8 | 16  # transfer, disk, deserialisation bars are not running tasks
esc = html.escape


def _shade(hex_color: str, k: int) -> str:
    """Band k's opaque colour: the base mixed with white, neighbours alternating (bands are
    painted over each other, so they must not be translucent)."""
    mix = 0.75 if k % 2 == 0 else 0.45
    rgb = [int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(255 - (255 - c) * mix):02x}" for c in rgb)


def bin_saturation(flat: Sequence[float], workers: list[dict[str, Any]], t0: float, t1: float,
                   bins: int = SATURATION_BINS, now: float | None = None
                   ) -> tuple[list[int], list[list[float]], int]:
    """Mean running tasks per worker in `bins` bins of [t0, t1]: (worker ids, series, slots).

    A bar adds its overlap with each bin over the bin's width (busy half a bin: 0.5); a
    worker still running a task adds [busy_since, now]. A pool's lane is its worker id; a
    watched Dask worker lists its lanes (one per thread)."""
    dt = max(1e-6, (t1 - t0) / bins)
    ids = sorted(w["id"] for w in workers)
    row = {wid: k for k, wid in enumerate(ids)}
    by_lanes = any(w.get("lanes") for w in workers)
    lane_row: dict[float, int] = {} if by_lanes else {float(w): k for w, k in row.items()}
    slots = 0
    for w in workers:
        for lane in w.get("lanes") or ():
            lane_row[float(lane)] = row[w["id"]]
        slots += len(w.get("lanes") or ()) or int(w.get("nthreads") or 1)
    series = [[0.0] * bins for _ in ids]
    inv = 1.0 / dt

    def add(out: list[float], a: float, b: float) -> None:
        a, b = max(a, t0), min(b, t1)
        if not b > a:
            return
        i0, i1 = int((a - t0) * inv), min(bins - 1, int((b - t0) * inv))
        if i0 == i1:  # most bars: shorter than a bin
            out[i0] += (b - a) * inv
            return
        for i in range(i0, i1 + 1):
            lo = t0 + i * dt
            out[i] += (min(b, lo + dt) - max(a, lo)) * inv

    # Columns by C-speed slicing, then one plain loop with the common case (a bar inside one
    # bin) inline: a function call per bar would double the cost of a full ring.
    get = lane_row.get
    for a, b, lane, f in zip(flat[0::6], flat[1::6], flat[2::6], flat[5::6], strict=False):
        if f and int(f) & NOT_COMPUTE:
            continue
        k = get(lane)
        if k is None or b <= t0 or a >= t1:
            continue
        i0 = int((a - t0) * inv)
        if i0 == int((b - t0) * inv) and a >= t0:
            series[k][i0] += (b - a) * inv
        else:
            add(series[k], a, b)
    for w in workers:
        if w.get("busy_since") is not None and w.get("status") == "busy" and now is not None:
            add(series[row[w["id"]]], float(w["busy_since"]), now)
    return ids, series, slots


def memory_functions_html(state: dict[str, Any]) -> str:
    """The memory pane's "results held, by function" rows; "" when nothing is held.

    A small table (a bar cell per function): ~200 bytes a row, for at most
    SHOWN_FUNCTIONS rows, so the section stays under ~1.5 KB."""
    rows = sorted((r for r in state.get("memory_by_function") or () if r.get("bytes", 0) > 0),
                  key=lambda r: -r["bytes"])
    if not rows:
        return ""
    total = sum(r["bytes"] for r in rows)
    top = 1.05 * rows[0]["bytes"]
    muted = f"color: {THEME['light']['fg2']}"
    cell = "text-align: left"  # (hosts right-align table cells: say it)
    out = [f'<div class="tss-memfn" data-total="{total}" style="margin-top: 6px">'
           f'<div style="{muted}; font-weight: 600">Results held, by function · '
           f'{fmt.bytes_(total)}</div><table style="width: 100%; border-collapse: collapse">']
    for r in rows[:SHOWN_FUNCTIONS]:
        out.append(
            f'<tr class="tss-memfn-row" data-bytes="{r["bytes"]}"><td style="{cell}; width: 140px">'
            f'{esc(str(r["name"])[:24])}</td><td style="{cell}"><div style="width: '
            f'{100.0 * r["bytes"] / top:.1f}%; height: 8px; background-color: {color(r.get("color", -1))}">'
            f'</div></td><td style="text-align: right; width: 130px">{fmt.bytes_(r["bytes"])} · '
            f'{fmt.count(r.get("results", 0))}</td></tr>')
    out.append("</table>")
    if len(rows) > SHOWN_FUNCTIONS:
        rest = rows[SHOWN_FUNCTIONS:]
        out.append(f'<div style="{muted}">… {len(rest)} more, {fmt.bytes_(sum(r["bytes"] for r in rest))}</div>')
    return "".join(out) + "</div>"


def saturation_html(state: dict[str, Any], flat: Sequence[float], t0: float, t1: float) -> str:
    """The resources pane's saturation chart: running tasks stacked by worker."""
    workers = state.get("workers") or []
    if not workers or t1 <= t0:
        return ""
    ids, series, slots = bin_saturation(flat, workers, t0, t1, SNAPSHOT_BINS, now=state.get("now"))
    if len(series) > MAX_BANDS:  # dozens of thin bands read as noise (and cost bytes)
        series = [[sum(col) for col in zip(*series, strict=True)]]
    sums = [sum(col) for col in zip(*series, strict=True)] if series else []
    peak = max(sums, default=0.0)
    ymax = max(1.0, float(slots), peak)
    base = THEME["saturation"]["color"]
    bins = SNAPSHOT_BINS
    sx = SAT_W / bins
    parts = [f"<rect width='{SAT_W}' height='{SAT_H}' fill='{THEME['light']['bg2']}'/>"]

    def y(v: float) -> str:
        return f"{SAT_H - v / ymax * (SAT_H - 2):.0f}"

    # Each band is drawn from its stacked top down to 0, the highest first, so each polygon
    # needs only its top line (a point per bin centre): half the bytes of true bands.
    tops, acc = [], [0.0] * bins
    for s in series:
        acc = [acc[i] + s[i] for i in range(bins)]
        tops.append(acc)
    for k in reversed(range(len(tops))):
        pts = " ".join(f"{(i + 0.5) * sx:.0f},{y(tops[k][i])}" for i in range(bins))
        parts.append(f"<polygon fill='{_shade(base, k)}' "
                     f"points='0,{SAT_H} 0,{y(tops[k][0])} {pts} {SAT_W},{y(tops[k][-1])} {SAT_W},{SAT_H}'/>")
    if slots:
        parts.append(f"<line x1='0' x2='{SAT_W}' y1='{y(slots)}' y2='{y(slots)}' stroke='{base}' "
                     "stroke-dasharray='4 3' stroke-width='1'/>")
    mean = sum(sums) / bins / slots if slots else 0.0
    img = svg_img(_svg(SAT_W, SAT_H, "".join(parts)), "saturation: running tasks per worker over time",
                  class_="tss-saturation", style="display: block; max-width: 100%")
    return (f'<div class="tss-sat" data-slots="{slots}" data-peak="{peak:.3f}" style="margin: 0 12px 4px 0">'
            f'<div style="font-variant: tabular-nums"><b>{esc(THEME["saturation"]["title"])}</b> '
            f'<span style="color: {base}">{len(ids)} workers, {slots} slots · '
            f'{fmt.percent(mean)} busy on average</span></div>{img}</div>')
