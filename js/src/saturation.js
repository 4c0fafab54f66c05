/**
 * Saturation over time (DaggerWebDash's worker saturation, Dask's occupancy): how many
 * tasks each worker was running, as a stacked area (one band per worker, in time bins),
 * drawn under the resource charts.
 *
 *   task-stream ring (start, end, lane, ..., flags) ─┐  compute bars only (not transfers)
 *   state.workers[].lanes (a Dask worker's threads) ─┼─▶ binSaturation() ─▶ per worker,
 *   state.workers[].busy_since (the running task)  ──┘    the mean running tasks per bin
 *
 * It is measured, not sampled: each bin gets the overlap of every bar with it, so a
 * worker busy for half of a bin counts 0.5. The task still running (which the stream only
 * gets when it ends) is drawn from its worker's `busy_since` up to `now`. The same binning
 * is done in Python for the static snapshot (kernel_ext/_snapshot_memflow.py).
 */
import { alpha } from "./colors.js";

/** Bins across the chart: enough for a smooth area, cheap to draw at any ring size. */
export const SATURATION_BINS = 120;
/** Flags of bars that are not compute (a transfer, disk or deserialisation bar). */
const NOT_COMPUTE = 4 | 8 | 16;

/**
 * Mean running tasks per worker in `bins` equal bins of [t0, t1].
 * @param {import("./ring.js").Ring} ring  the task-stream ring (6 floats per record)
 * @param {any[]} workers  state.workers
 * @param {number} t0 @param {number} t1 @param {number} bins @param {number} now
 * @returns {{ids: number[], series: Float64Array[], dt: number, peak: number, slots: number}}
 */
export function binSaturation(ring, workers, t0, t1, bins, now) {
  const dt = Math.max(1e-6, (t1 - t0) / bins);
  const ids = workers.map((w) => w.id).sort((a, b) => a - b);
  const row = new Map(ids.map((id, k) => [id, k]));
  // lane -> worker row: a pool's lane is its worker id; a Dask worker lists its lanes
  const byLanes = workers.some((w) => w.lanes?.length);
  /** @type {Map<number, number>} */
  const laneRow = byLanes ? new Map() : new Map(row);
  let slots = 0;
  for (const w of workers) {
    for (const lane of w.lanes ?? []) laneRow.set(lane, /** @type {number} */ (row.get(w.id)));
    slots += w.lanes?.length || w.nthreads || 1;
  }
  const series = ids.map(() => new Float64Array(bins));
  /** @param {number} k @param {number} a @param {number} b */
  const add = (k, a, b) => {
    const s = Math.max(a, t0);
    const e = Math.min(b, t1);
    if (!(e > s)) return;
    const out = series[k];
    const i0 = Math.floor((s - t0) / dt);
    const i1 = Math.min(bins - 1, Math.floor((e - t0) / dt));
    for (let i = i0; i <= i1; i++) {
      const lo = t0 + i * dt;
      out[i] += (Math.min(e, lo + dt) - Math.max(s, lo)) / dt;
    }
  };
  const d = ring.data;
  for (const [a, b] of ring.spans()) {
    for (let o = a; o < b; o += 6) {
      if (d[o + 5] & NOT_COMPUTE) continue;
      const k = laneRow.get(d[o + 2]);
      if (k !== undefined) add(k, d[o], d[o + 1]);
    }
  }
  for (const w of workers) {
    if (w.busy_since != null && w.status === "busy") add(/** @type {number} */ (row.get(w.id)), w.busy_since, now);
  }
  let peak = 0;
  for (let i = 0; i < bins; i++) {
    let sum = 0;
    for (const s of series) sum += s[i];
    peak = Math.max(peak, sum);
  }
  return { ids, series, dt, peak, slots };
}

/** A worker's band colour: neighbours alternate between two shades so bands stay apart. */
export function bandColor(/** @type {number} */ k, /** @type {string} */ base) {
  return alpha(base, k % 2 ? 0.45 : 0.75);
}

/**
 * Draw the stacked area in [left, right] x [top, bottom] (y from 0 to `ymax` tasks).
 * @param {CanvasRenderingContext2D} ctx
 * @param {{series: Float64Array[]}} sat
 * @param {{left: number, right: number, top: number, bottom: number, ymax: number, base: string}} box
 */
export function drawSaturation(ctx, sat, box) {
  const { left, right, top, bottom, ymax, base } = box;
  const bins = sat.series[0]?.length ?? 0;
  if (!bins) return;
  const X = (/** @type {number} */ i) => left + (i / bins) * (right - left);
  const Y = (/** @type {number} */ v) => bottom - (Math.min(v, ymax) / ymax) * (bottom - top);
  const below = new Float64Array(bins);
  sat.series.forEach((s, k) => {
    ctx.beginPath();
    for (let i = 0; i < bins; i++) {
      ctx.lineTo(X(i), Y(below[i] + s[i]));
      ctx.lineTo(X(i + 1), Y(below[i] + s[i]));
    }
    for (let i = bins - 1; i >= 0; i--) {
      ctx.lineTo(X(i + 1), Y(below[i]));
      ctx.lineTo(X(i), Y(below[i]));
    }
    ctx.closePath();
    ctx.fillStyle = bandColor(k, base);
    ctx.fill();
    for (let i = 0; i < bins; i++) below[i] += s[i];
  });
}

/** The chart's height (px): a band per worker needs more room than a line. */
export const SATURATION_H = 120;

/**
 * The y axis: from 0 to every slot busy (workers x threads), or the peak if above it;
 * whole tasks only.
 * @param {number} peak @param {number} slots @returns {{ymax: number, values: number[]}}
 */
export function saturationAxis(peak, slots) {
  const ymax = Math.max(1, slots, Math.ceil(peak - 1e-9));
  const step = ymax <= 4 ? 1 : Math.ceil(ymax / 4);
  const values = [];
  for (let v = 0; v < ymax; v += step) values.push(v);
  values.push(ymax);
  return { ymax, values };
}

/**
 * The saturation chart of the resources pane: a box like the other charts, drawn on the
 * same time axis. `draw` is called by resources.js with the axis it chose.
 * @param {(tag: string, attrs?: any, children?: any[]) => HTMLElement} h
 * @param {{title: string, color: string, label: string}} theme  THEME.saturation
 */
export function saturationChart(h, theme) {
  const value = h("span", { class: "ts-num ts-res-value" });
  const canvas = /** @type {HTMLCanvasElement} */ (h("canvas", { class: "ts-res-canvas", dataset: { chart: "saturation" } }));
  const note = h("span", { class: "ts-legend-item" }, [h("span", { class: "ts-swatch", style: { background: bandColor(0, theme.color) } }), theme.label]);
  const box = h("div", { class: "ts-res-chart ts-res-wide", dataset: { chart: "saturation" } }, [
    h("div", { class: "ts-res-head" }, [h("span", { class: "ts-res-title", text: theme.title }), value]),
    canvas,
    h("div", { class: "ts-legend ts-res-legend" }, [note]),
  ]);
  return { box, canvas, value };
}
