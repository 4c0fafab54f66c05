"""The static snapshot: a State drawn as plain HTML + SVG images, with no script at all.

It is the `text/html` of every taskscope output, what a notebook shows where no widget can
run: GitHub, nbviewer and nbconvert, an untrusted notebook in JupyterLab (whose sanitizer
keeps inline `style` attributes with known properties, `<details>`, `<table>`, `<pre>`
and `<img src="data:...">`, and removes `<svg>`, `<style>`, `<script>` and `data-*`),
VS Code without a kernel, and a finished bar or closed pool left in a saved notebook.

    state (State.to_json()) + stream ring + resources ring ──▶ snapshot_html() ──▶ str

Colours and labels come from theme.json and numbers from _format.py (a port of the panes'
format.js, checked against the same golden cases), so the snapshot looks like the live
dashboard. Its size is bounded (about 100 KB at most, whatever the pool ran): the stream
is binned and merged (_snapshot_svg.py), errors and tracebacks are cut. Elements carry
`tss-*` classes (kept by every sanitizer) and `data-*` attributes (kept where HTML is
trusted) so tests and tools can read what it shows.
"""
from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from . import _format as fmt
from ._snapshot_graph import counts_text, graph_svg
from ._snapshot_memflow import memory_functions_html, saturation_html
from ._snapshot_profile import profile_pane
from ._snapshot_svg import sparkline_svg, stream_records, stream_svg, svg_img
from .theme import THEME, color, rgba, segment_colors, status_color

__all__ = ["MAX_SNAPSHOT_ERRORS", "collector_snapshot", "snapshot_html"]

MAX_SNAPSHOT_ERRORS = 6  # error cards with a traceback; the rest are counted
SNAPSHOT_TRACEBACK_CHARS = 1200  # the end of a traceback: where it failed
NAME_CHARS = 40  # function names longer than this are cut (with an ellipsis)
MAX_SNAPSHOT_CALLS = 10  # newest calls shown (the functions' rows still count all)
MAX_SNAPSHOT_FUNCTIONS = 10  # functions with most tasks shown
MAX_SNAPSHOT_WORKERS = 12  # workers shown in the memory and workers panes: live ones first
BUDGET_BYTES = 100_000  # one dashboard's snapshot: it is saved in the notebook, in every output


class Limits(NamedTuple):
    """How many rows the snapshot's tables show (the rest are counted)."""
    calls: int = MAX_SNAPSHOT_CALLS
    functions: int = MAX_SNAPSHOT_FUNCTIONS
    workers: int = MAX_SNAPSHOT_WORKERS
    errors: int = MAX_SNAPSHOT_ERRORS
    traceback_chars: int = SNAPSHOT_TRACEBACK_CHARS


FULL = Limits()
# With every pane of a big run chosen (the graph and the profile besides the six), the rows
# are halved so that the whole still fits the budget.
TIGHT = Limits(calls=5, functions=5, workers=6, errors=3, traceback_chars=500)
L = THEME["light"]
FG, FG2, BG, BG2, BORDER, TRACK, GRID = (L[k] for k in ("fg", "fg2", "bg", "bg2", "border", "track", "grid"))
ERR, DIED = status_color("erred"), status_color("died")
RSS_COLOR = THEME["resources"]["memory"]["series"][0]["color"]
esc = html.escape
_FONT = "font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; font-size: 12px"
_NUM = "font-variant: tabular-nums; white-space: nowrap"
_CARD = (f"border: 1px solid {BORDER}; border-radius: 6px; padding: 6px 10px; "
         f"margin: 6px 0; background-color: {BG}")
_HEAD = f"font-weight: 600; color: {FG}; margin: 0 0 4px 0"
_MUTED = f"color: {FG2}"
# Host pages style tables and code their own way (JupyterLab right-aligns cells, nbconvert
# boxes code): the snapshot states what it needs inline.
_CODE = "font-family: monospace; font-size: 11px; padding: 0; background-color: transparent"


def _cut(text: Any, n: int = NAME_CHARS) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


_STYLE = re.compile(r'style="([^"]*)"')


def _compact_styles(html_text: str) -> str:
    """Drop the spaces after ':' and ';' in style attributes (~10% of a snapshot)."""
    return _STYLE.sub(lambda m: 'style="' + m.group(1).replace("; ", ";").replace(": ", ":") + '"',
                      html_text)


def _attrs(cls: str, style: str = "", **data: Any) -> str:
    out = f' class="{cls}"'
    if style:
        out += f' style="{style}"'
    for k, v in data.items():
        if v is not None:
            out += f' data-{k.replace("_", "-")}="{esc(str(v))}"'
    return out


def _pill(status: str) -> str:
    return (f'<span{_attrs("tss-pill", f"background-color: {status_color(status)}; color: #ffffff; border-radius: 8px; padding: 0 6px; font-size: 11px")}>'
            f"{esc(status)}</span>")


def _bar(counts: dict[str, int], total: int, ci: int, height: int = 10) -> str:
    """A stacked bar: done, processing, queued (+waiting), erred, cancelled (bars.js)."""
    cols = segment_colors(ci)
    denom = max(1, total)
    segs = []
    for seg in THEME["segments"]:
        v = counts.get(seg, 0) + (counts.get("waiting", 0) if seg == "queued" else 0)
        if v <= 0:
            continue
        segs.append(f'<div style="width: {_pct(v, denom)}; height: {height}px; '
                    f'background-color: {cols[seg]}; float: left" title="{seg}: {v}"></div>')
    return (f'<div{_attrs("tss-bar", f"height: {height}px; background-color: {TRACK}; border-radius: 3px; overflow: hidden; min-width: 80px")}>'
            f"{''.join(segs)}</div>")


def _pct(v: float, of: float) -> str:
    """A CSS width: 0.1% steps (under a pixel of any bar) without trailing zeros."""
    return f"{min(100.0, 100.0 * v / max(of, 1e-9)):.1f}".rstrip("0").rstrip(".") + "%"


def _done(c: dict[str, int]) -> int:
    return int(c.get("released", 0)) + int(c.get("memory", 0))


def _total(row: dict[str, Any]) -> int:
    return int(row["total"] if row.get("total") is not None else row.get("submitted", 0))


def _swatch(ci: int) -> str:
    return (f'<span style="display: inline-block; width: 9px; height: 9px; border-radius: 2px; '
            f'background-color: {color(ci)}; margin-right: 4px"></span>')


def _call_cells(c: dict[str, Any], now: float) -> tuple[str, ...]:
    counts, total = c["counts"], _total(c)
    done = _done(counts)
    frac = done / total if total else (1.0 if c["status"] != "running" else None)
    end = c.get("ended") if c.get("ended") is not None else now
    elapsed = (end - c["started"]) if c.get("started") is not None and end is not None else None
    issues = []
    if counts.get("erred"):
        issues.append(f"{fmt.count(counts['erred'])} erred")
    if counts.get("cancelled"):
        issues.append(f"{fmt.count(counts['cancelled'])} cancelled")
    return (fmt.percent(frac, 0) if frac is not None else fmt.DASH,
            f"{fmt.count(done)} / {fmt.count(total)}", ", ".join(issues),
            fmt.duration(elapsed), fmt.rate(c.get("rate")) if c["status"] == "running" else "")


def compact_html(state: dict[str, Any], call: int) -> str:
    """A one-call progress bar's static form (progress-compact.js): one line."""
    row = next((c for c in state.get("calls", []) if c["id"] == call), None)
    pool = state.get("pool", {})
    if row is None:
        return (f'<div{_attrs("taskscope-static tss-compact", _FONT, call=call)}>taskscope: '
                f"call #{call} of {esc(str(pool.get('name', '')))} (no longer kept)</div>")
    pct, done_total, issues, elapsed, rate = _call_cells(row, state.get("now") or 0.0)
    counts = row["counts"]
    cs = row.get("callsite") or {}
    title = esc(f"{row.get('module')}.{row['fn']} ({row.get('file')}:{row.get('line')})\n"
                f"called from {cs.get('file')}:{cs.get('line')}: {cs.get('code') or ''}")
    cell = f"padding: 0 8px 0 0; {_NUM}"
    return _compact_styles(f'<div{_attrs("taskscope-static tss-compact", f"{_FONT}; color: {FG}; max-width: 900px", fn=row["fn"], done=_done(counts), total=_total(row), erred=counts.get("erred", 0), status=row["status"], call=call)}>'
            f'<table style="border-collapse: collapse; width: 100%; table-layout: auto"><tr>'
            f'<td style="{cell}; width: 1%; text-align: left" title="{title}">{_swatch(row["color"])}'
            f'<code style="{_CODE}">{esc(_cut(row["fn"]))}</code></td>'
            f'<td style="padding: 0 8px 0 0; width: 50%">{_bar(counts, _total(row), row["color"])}</td>'
            f'<td style="{cell}; text-align: right">{pct}</td>'
            f'<td style="{cell}; text-align: right">{done_total}</td>'
            f'<td style="{cell}; {_MUTED}">{elapsed}{" · " + rate if rate else ""}</td>'
            f'<td style="{cell}; color: {ERR}">{issues}</td>'
            f'<td style="{cell}">{_pill(row["status"])}</td></tr></table></div>')


def _header(state: dict[str, Any]) -> str:
    pool, totals = state.get("pool", {}), state.get("totals", {})
    now = state.get("now") or 0.0
    started, ended = pool.get("started"), pool.get("ended")
    up = ((ended if ended is not None else now) - started) if started is not None else None
    live = sum(1 for w in state.get("workers", []) if w.get("status") not in ("exited", "died"))
    stats = [("submitted", totals.get("submitted")), ("done", totals.get("done")),
             ("erred", totals.get("erred")), ("cancelled", totals.get("cancelled"))]
    stat_html = "".join(
        f'<span style="margin-left: 14px; {_NUM}"><b>{fmt.count(v)}</b> <span style="{_MUTED}">{k}</span></span>'
        for k, v in stats)
    return (f'<div{_attrs("tss-header", f"{_CARD}; display: flex; flex-wrap: wrap; align-items: center")}>'
            f'<b style="font-size: 13px; margin-right: 8px">{esc(str(pool.get("name", "")))}</b>'
            f"{_pill(str(pool.get('status', '')))}"
            f'<span style="margin-left: 8px; {_MUTED}">{live} of {pool.get("n_workers", 0)} workers '
            f"· up {fmt.duration(up)}</span>"
            f'<span style="margin-left: auto">{stat_html}</span></div>')


def _progress(state: dict[str, Any], lim: Limits = FULL) -> str:
    now = state.get("now") or 0.0
    calls = state.get("calls", [])[-lim.calls:]
    cell = "padding: 1px 8px 1px 0"
    rows = []
    for c in reversed(calls):  # newest first, as the live pane
        pct, done_total, issues, elapsed, rate = _call_cells(c, now)
        rows.append(
            f'<tr{_attrs("tss-call", fn=c["fn"], done=_done(c["counts"]), total=_total(c), status=c["status"])}>'
            f'<td style="{cell}; text-align: left">{_swatch(c["color"])}<code style="{_CODE}">{esc(_cut(c["fn"]))}</code>&nbsp;'
            f'<span style="{_MUTED}">{esc(c["api"])}&nbsp;#{c["id"]}</span></td>'
            f'<td style="padding: 1px 8px 1px 0; width: 40%">{_bar(c["counts"], _total(c), c["color"])}</td>'
            f'<td style="{cell}; text-align: right">{pct}</td><td style="{cell}; text-align: right">{done_total}</td>'
            f'<td style="{cell}; {_MUTED}">{elapsed}{" · " + rate if rate else ""}</td>'
            f'<td style="{cell}; color: {ERR}">{issues}</td><td style="{cell}">{_pill(c["status"])}</td></tr>')
    older = len(state.get("calls", [])) - len(calls)
    fn_rows = []
    all_fns = sorted(state.get("functions", []), key=lambda f: -f.get("submitted", 0))
    for f in all_fns[:lim.functions]:
        done = _done(f["counts"])
        fn_rows.append(
            f'<tr{_attrs("tss-function", fn=f["name"], done=done, total=f["submitted"])}>'
            f'<td style="{cell}; text-align: left">{_swatch(f["color"])}<code style="{_CODE}">{esc(_cut(f["name"]))}</code></td>'
            f'<td style="padding: 1px 8px 1px 0; width: 40%">{_bar(f["counts"], f["submitted"], f["color"])}</td>'
            f'<td style="{cell}; text-align: right">{fmt.percent(done / f["submitted"] if f["submitted"] else None, 0)}</td>'
            f'<td style="{cell}; text-align: right">{fmt.count(done)} / {fmt.count(f["submitted"])}</td>'
            f'<td style="{cell}; {_MUTED}" colspan="3">{fmt.duration(f.get("time"))} of work</td></tr>')
    if not rows:
        return _pane("progress", '<div style="color: #8c959f">No calls yet.</div>')
    table = f'style="border-collapse: collapse; width: 100%; table-layout: auto; {_NUM}"'
    return _pane("progress",
                 # One table for both lists, so that their bars and numbers line up.
                 f"<table {table}>{_subhead('Calls' + (f' (newest {len(calls)}; {older} older)' if older else ''))}"
                 f"{''.join(rows)}{_subhead('Functions' + _more(len(all_fns), lim.functions))}"
                 f'{"".join(fn_rows)}</table>')


def _subhead(text: str) -> str:
    return (f'<tr><td colspan="7" style="padding: 4px 0 1px 0; text-align: left; {_MUTED}; '
            f'background-color: transparent">{esc(text)}</td></tr>')


def _title(name: str) -> str:
    return next(p["title"] for p in THEME["panes"] if p["name"] == name)


def _pane(name: str, body: str, extra: str = "", **data: Any) -> str:
    return (f'<div{_attrs(f"tss-pane tss-pane-{name}", _CARD, **data)}>'
            f'<div style="{_HEAD}">{_title(name)}{extra}</div>{body}</div>')


def _task_stream(state: dict[str, Any], flat: Any) -> str:
    n = len(flat) // 6
    total = state.get("stream_total", n)
    if not n:
        return _pane("task-stream", f'<div style="{_MUTED}">No finished tasks yet.</div>', rects=0,
                     stream_total=total)
    starts, ends, wids = flat[0::6], flat[1::6], flat[2::6]
    t0 = min(starts)
    t1 = max(max(ends), t0 + 1e-3)
    started = state.get("pool", {}).get("started")
    svg, n_rects, _height = stream_svg(flat, t0, t1)
    offset = f"; time axis from +{fmt.duration(t0 - started)}" if started is not None and t0 - started > 0.5 else ""
    extra = (f' <span style="font-weight: normal; {_MUTED}">{fmt.count(n)} kept of '
             f"{fmt.count(total)} tasks{offset}</span>")
    legend = "".join(f'<span style="margin-right: 10px">{_swatch(f["color"])}{esc(_cut(f["name"]))}</span>'
                     for f in state.get("functions", [])[:12])
    if any(int(f) & 4 for f in flat[5::6]):  # a transfer bar (a fetch, or Dask's): say what red is
        legend += (f'<span style="margin-right: 10px">{_swatch(0).replace(color(0), THEME["transfer"])}'
                   "transfer</span>")
    alt = f"task stream: {n} tasks on {len(set(wids))} workers"
    img = svg_img(svg, alt, class_="tss-stream", style="max-width: 100%; height: auto")
    return _pane("task-stream", f"{img}<div style=\"{_MUTED}; font-size: 11px\">{legend}</div>",
                 extra, rects=n_rects, stream_total=total, kept=n)


def _graph(state: dict[str, Any], lim: Limits = FULL) -> str:
    """The task graph (_snapshot_graph.py) and each function's state counts as text."""
    g = state.get("graph")
    if not g:
        return _pane("graph", f'<div style="{_MUTED}">No submitted tasks.</div>', nodes=0)
    svg, n, mode = graph_svg(g)
    what = f"{fmt.count(g.get('total', 0))} tasks" + (", grouped by function" if mode == "groups" else "")
    rows = "".join(f'<div class="tss-graph-fn" style="{_NUM}">{_swatch(x["color"])}{esc(_cut(x["fn"]))}'
                   f' <span style="{_MUTED}">{esc(counts_text(x["counts"]))}</span></div>'
                   for x in g.get("groups", [])[:lim.functions])
    img = svg_img(svg, f"task graph: {what}", class_="tss-graph", style="max-width: 100%; height: auto")
    return _pane("graph", f"{rows}{img}", f' <span style="font-weight: normal; {_MUTED}">{what}</span>',
                 nodes=n, mode=mode)


def _more(n: int, shown: int) -> str:
    return f" (the first {shown} of {n})" if n > shown else ""


def _shown_workers(state: dict[str, Any], lim: Limits = FULL) -> list[dict[str, Any]]:
    """The workers a snapshot lists: live ones first (by id), then the latest gone."""
    ws = state.get("workers", [])
    live = [w for w in ws if w.get("status") not in ("exited", "died")]
    gone = [w for w in ws if w.get("status") in ("exited", "died")]
    return sorted((live + gone[::-1])[:lim.workers], key=lambda w: w["id"])


def _memory(state: dict[str, Any], lim: Limits = FULL) -> str:
    workers = _shown_workers(state, lim)
    if not workers:
        return _pane("memory", f'<div style="{_MUTED}">No workers yet.</div>')
    mem = THEME["memory"]
    top = 1.08 * max([w.get("rss") or 0 for w in workers] + [w.get("memory_limit") or 0 for w in workers] + [1])
    rows = []
    for w in workers:
        rss = w.get("rss") or 0
        managed = min(w.get("managed") or 0, rss or (w.get("managed") or 0))
        limit = w.get("memory_limit")
        frac = rss / limit if limit else 0.0
        level = "critical" if frac >= mem["critical_fraction"] else "high" if frac >= mem["high_fraction"] else "ok"
        c = mem["gone"] if w.get("status") in ("exited", "died") else mem[level]  # as memory.js
        limit_mark = (f'<div style="position: absolute; left: {100.0 * limit / top:.2f}%; top: 0; width: 2px; height: 10px; background-color: {ERR}" title="memory limit {fmt.bytes_(limit)}"></div>'
                      if limit else "")
        rows.append(
            f'<div{_attrs("tss-mem-row", "display: flex; align-items: center; margin: 2px 0", worker=w["id"], rss=rss)}>'
            f'<span style="width: 34px; {_MUTED}">w{w["id"]}</span>'
            f'<div style="flex-grow: 1; height: 10px; background-color: {TRACK}; border-radius: 3px; overflow: hidden; position: relative">'
            f'<div style="width: {100.0 * managed / top:.2f}%; height: 10px; background-color: {c}; float: left"></div>'
            f'<div style="width: {100.0 * max(0, rss - managed) / top:.2f}%; height: 10px; background-color: {rgba(c, mem["unmanaged_alpha"])}; float: left"></div>{limit_mark}</div>'
            f'<span style="width: 150px; text-align: right; {_NUM}">{fmt.bytes_(rss)}'
            f'<span style="{_MUTED}"> · {fmt.bytes_(managed)} held</span></span></div>')
    n = len(state.get("workers", []))
    rows.append(memory_functions_html(state))  # results held, by function (issue 14)
    return _pane("memory", "".join(rows), f' <span style="font-weight: normal; {_MUTED}">RSS per worker, results held{_more(n, len(workers))}</span>')


def _workers(state: dict[str, Any], lim: Limits = FULL) -> str:
    workers = _shown_workers(state, lim)
    if not workers:
        return _pane("workers", f'<div style="{_MUTED}">No workers yet.</div>')
    th = f'style="text-align: left; padding: 1px 8px 1px 0; font-weight: 500; white-space: nowrap; {_MUTED}"'
    head = "".join(f"<th {th}>{h}</th>" for h in ("worker", "pid", "status", "tasks", "CPU", "RSS",
                                                 "busy", "start-up", "init", "waiting", "working", "longest task"))
    cell = "padding: 1px 8px 1px 0; text-align: left"
    rows = []
    for w in workers:
        ins = w.get("insights") or {}
        longest = (w.get("longest") or [None])[0]
        long_txt = (f"{esc(_cut(longest['fn'], 24))}({esc(_cut(longest.get('arg', ''), 24))}) "
                    f"{fmt.duration(longest['duration'])}") if longest else ""
        why = ""
        if w.get("status") == "died" or w.get("exit_message"):
            sig = f"signal {w['signal']}" if w.get("signal") else f"exit code {w.get('exitcode')}"
            why = (f'<tr><td></td><td colspan="11" style="color: {DIED}; padding: 0 0 2px 0">'
                   f"{esc(w.get('exit_message') or sig)}</td></tr>")
        rows.append(
            f'<tr{_attrs("tss-worker", worker=w["id"], status=w.get("status"))}><td style="{cell}">{esc(w.get("label") or "w" + str(w["id"]))}</td>'
            f'<td style="{cell}">{w.get("pid") or ""}</td><td style="{cell}">{_pill(str(w.get("status")))}</td>'
            f'<td style="{cell}">{fmt.count(w.get("tasks_done"))}</td><td style="{cell}">{fmt.cpu(w.get("cpu"))}</td>'
            f'<td style="{cell}">{fmt.bytes_(w.get("rss"))}</td><td style="{cell}">{fmt.percent(w.get("utilisation"), 0)}</td>'
            + "".join(f'<td style="{cell}">{fmt.duration(ins.get(k))}</td>' for k in ("startup", "init", "waiting", "working"))
            + f'<td style="padding: 1px 0; text-align: left">{long_txt}</td></tr>{why}')
    extra = f' <span style="font-weight: normal; {_MUTED}">{_more(len(state.get("workers", [])), len(workers))}</span>'
    return _pane("workers", f'<table style="border-collapse: collapse; width: 100%; table-layout: auto; {_NUM}"><tr>{head}</tr>{"".join(rows)}</table>', extra)


def _errors(state: dict[str, Any], lim: Limits = FULL) -> str:
    errors = list(state.get("errors", []))
    total = state.get("errors_total", len(errors))
    if not errors:
        return _pane("errors", f'<div style="{_MUTED}">No errors.</div>', errors=0)
    t0 = state.get("pool", {}).get("started")
    cards = []
    shown = errors[-lim.errors:]
    for i, e in enumerate(reversed(shown)):
        tb = e.get("traceback") or ""
        if len(tb) > lim.traceback_chars:
            tb = "…\n" + tb[-lim.traceback_chars:]
        open_attr = " open" if i == 0 else ""
        cards.append(
            f'<details{open_attr}{_attrs("tss-err", f"border-left: 3px solid {ERR}; padding: 2px 0 2px 8px; margin: 4px 0", exc_type=e.get("exc_type"))}>'
            f'<summary style="cursor: pointer"><b>{esc(str(e.get("exc_type")))}</b>: {esc(_cut(e.get("message"), 200))}'
            f' <span style="{_MUTED}">in <code>{esc(_cut(e.get("fn")))}({esc(_cut(e.get("arg"), 80))})</code> '
            f'· call #{e.get("call")} · w{e.get("worker")} (pid {e.get("pid")}) · {fmt.rel_time(e.get("ts"), t0)}</span></summary>'
            f'<pre class="tss-tb" style="white-space: pre-wrap; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 11px; line-height: 1.35; margin: 4px 0; padding: 4px 6px; '
            f'background-color: {BG2}; max-height: 260px; overflow-y: auto">{esc(tb)}</pre></details>')
    more = total - len(shown)
    extra = f' <span style="font-weight: normal; {_MUTED}">{fmt.count(total)} in all{f"; the newest {len(shown)} shown" if more else ""}</span>'
    return _pane("errors", "".join(cards), extra, errors=total)


def _resources(state: dict[str, Any], raw: bytes | None, stream: Any = ()) -> str:
    recs = stream_records_5(raw)
    if len(recs) < 2:
        return _pane("resources", f'<div style="{_MUTED}">No samples yet.</div>')
    charts = []
    n_workers = max(1, state.get("pool", {}).get("n_workers") or 1)
    for key, c in THEME["resources"].items():
        lines, values = [], []
        for s in c["series"]:
            pts = [(r[0], r[s["field"]]) for r in recs]
            lines.append((pts, s["color"]))
            last = pts[-1][1]
            values.append(f'<span style="color: {s["color"]}">{esc(s["label"])} '
                          f'{fmt.cpu(last) if key == "cpu" else fmt.bytes_(last) if key == "memory" else fmt.rate(last)}</span>')
        svg = sparkline_svg(lines, 100.0 * n_workers if key == "cpu" else None)
        img = svg_img(svg, f"{c['title']} over time", class_="tss-spark", style="display: block; max-width: 100%")
        charts.append(f'<div style="display: inline-block; margin: 0 12px 4px 0; vertical-align: top">'
                      f'<div style="{_NUM}"><b>{esc(c["title"])}</b> {" · ".join(values)}</div>{img}</div>')
    charts.append(saturation_html(state, stream, recs[0][0], max(recs[-1][0], state.get("now") or 0)))
    span = recs[-1][0] - recs[0][0]
    return _pane("resources", "".join(charts), f' <span style="font-weight: normal; {_MUTED}">last {fmt.duration(span)}</span>')


def stream_records_5(raw: bytes | None) -> list[tuple[float, ...]]:
    """Resource records (5 float64 each) from the ring's raw bytes."""
    import array

    if not raw:
        return []
    a = array.array("d")
    a.frombytes(raw)
    return [tuple(a[i:i + 5]) for i in range(0, len(a) - 4, 5)]


def snapshot_html(state: dict[str, Any], stream: bytes | Sequence[Sequence[float]] | None = None,
                  resources: bytes | None = None, call: int | None = None,
                  panes: Sequence[str] | None = None) -> str:
    """The static HTML of a State (docs/state.md; `state` with its `errors`).

    `stream` and `resources` are the rings' raw bytes (or stream records); `call` gives a
    one-call progress bar's line; `panes` limits the dashboard to some panes."""
    if call is not None:
        return compact_html(state, call)
    if isinstance(stream, (bytes, bytearray)) or stream is None:
        records: Any = stream_records(stream)
    else:  # records as 6-sequences
        records = [v for r in stream for v in r]
    pool = state.get("pool", {})
    chosen = [p["name"] for p in THEME["panes"] if (p["name"] in panes if panes else
                                                    not p.get("optional") or pool.get(p["name"]))]
    note = (f'<div style="{_MUTED}; font-size: 11px">taskscope static snapshot · {esc(str(pool.get("status")))} '
            f"· run the notebook for the live dashboard</div>")

    def draw(lim: Limits) -> str:
        parts = {"progress": lambda: _progress(state, lim),
                 "task-stream": lambda: _task_stream(state, records),
                 "memory": lambda: _memory(state, lim),
                 "resources": lambda: _resources(state, resources, records),
                 "workers": lambda: _workers(state, lim), "errors": lambda: _errors(state, lim),
                 "graph": lambda: _graph(state, lim),
                 "profile": lambda: profile_pane(state, _pane, _MUTED)}
        body = "".join(parts[name]() for name in chosen)
        return _compact_styles(f'<div{_attrs("taskscope-static tss-root", f"{_FONT}; color: {FG}; max-width: 1000px", pool_status=pool.get("status"), workers=len(state.get("workers", [])))}>'
                               f"{_header(state)}{body}{note}</div>")

    out = draw(FULL)
    return out if len(out.encode()) <= BUDGET_BYTES else draw(TIGHT)


def collector_snapshot(collector: Any, call: int | None = None,
                       panes: Sequence[str] | None = None, max_records: int | None = None) -> str:
    """The snapshot of a collector's State now (taken under its lock, drawn outside it);
    `max_records` draws only the newest task-stream records (a live snapshot, redrawn
    every few seconds, stays cheap: ~3 ms per 1,000 records)."""
    with collector.lock:
        st = collector.state
        if call is not None:
            state = st.call_view_json(call, ("v", "now"), ("name", "status"))
            stream = resources = None
        else:
            state = st.to_json()
            _, stream = st.stream.since(0 if max_records is None else st.stream.total - max_records)
            _, resources = st.resources.since(0)
    return snapshot_html(state, stream, resources, call=call, panes=panes)
