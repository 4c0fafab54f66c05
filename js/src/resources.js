/**
 * Resources over time (DaggerWebDash / Dask style): small line charts of CPU
 * total (%), memory (RSS total and managed) and tasks per second, from the
 * resource ring (t, cpu_total, rss_total, tasks_per_s, managed_total).
 */
import { fitCanvas, frameScheduler, h, onResize, paneShell, setData, setText } from "./dom.js";
import { alpha } from "./colors.js";
import { THEME } from "./theme-data.js";

/** Chart titles and series (colour, label, record field): kernel_ext/theme.json, shared with
 * the static snapshot. */
const R = THEME.resources;
import { readTheme } from "./theme.js";
import { niceStep, ticks } from "./stream-math.js";
import * as fmt from "./format.js";
import { SATURATION_BINS, SATURATION_H, binSaturation, drawSaturation, saturationAxis, saturationChart } from "./saturation.js";

/** @typedef {import("./store.js").Store} Store */
/** @typedef {import("./ring.js").Ring} Ring */
/** @typedef {{field: number, color: string, label: string, fill?: boolean}} Series */

const CHART_H = 104;

/** "50.0 MiB" -> "50 MiB", "1.50 GiB" -> "1.5 GiB": axis labels without trailing zeros. */
const trimZeros = (/** @type {string} */ s) => s.replace(/(\.\d*?)0+(?=\D|$)/, "$1").replace(/\.(?=\D|$)/, "");

const CHARTS = [
  {
    key: "cpu", title: R.cpu.title, series: R.cpu.series.map((s) => ({ ...s, fill: true })),
    fmt: (/** @type {number} */ v) => fmt.cpu(v), axis: (/** @type {number} */ v) => `${Math.round(v)}%`, min: 100, cores: true,
  },
  {
    key: "memory", title: R.memory.title,
    series: R.memory.series.map((s) => ({ ...s, fill: true })),
    fmt: (/** @type {number} */ v) => fmt.bytes(v), axis: (/** @type {number} */ v) => trimZeros(fmt.bytes(v)), min: 1024 * 1024, binary: true,
  },
  {
    key: "tasks", title: R.tasks.title, series: R.tasks.series.map((s) => ({ ...s, fill: true })),
    fmt: (/** @type {number} */ v) => fmt.rate(v, ""), axis: (/** @type {number} */ v) => trimZeros(fmt.rate(v, "")), min: 1,
  },
];

/** Whole numbers of cores an axis may end at (x 100%). */
const NICE_CORES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256];

/**
 * A y axis from 0: a nice upper bound just above the data, and its ticks.
 * With `binary`, steps are nice in the largest power-of-1024 unit below the
 * maximum (so byte axes read 0, 128 MiB, 256 MiB... rather than 0, 191 MiB,
 * 381 MiB). With `cores` (CPU, percent of one core), the top is a nice whole
 * number of cores: 100% for a 6% load, 200% for 150%, 400% for 350%.
 * @param {number} max @param {number} floor @param {boolean} [binary] @param {boolean} [cores]
 * @returns {{ymax: number, values: number[]}}
 */
export function yAxis(max, floor, binary = false, cores = false) {
  const m = Math.max(max, floor);
  if (cores) {
    const n = m / 100;
    const k = NICE_CORES.find((c) => c >= n - 1e-9) ?? Math.ceil(n / 64) * 64;
    const ymax = k * 100;
    // half-core ticks for one core, then whole cores, then nice multiples of cores
    const step = k === 1 ? 50 : k <= 4 ? 100 : niceCoreStep(k) * 100;
    const values = [];
    for (let v = 0; v <= ymax + step / 2; v += step) values.push(v);
    return { ymax, values };
  }
  const unit = binary ? Math.pow(1024, Math.max(0, Math.floor(Math.log(m) / Math.log(1024)))) : 1;
  // a little headroom so the line does not run along the top edge
  const head = (m * 1.02) / unit;
  // the lowest top over steps of 1, 2, 2.5 or 5 x 10^k with at most 4
  // intervals (ties: more intervals), so 41 MiB gets 0-25-50 rather than 0-20-40-60
  const p = Math.pow(10, Math.floor(Math.log10(head / 4)));
  let best = { step: niceStep(head, 4), top: Infinity, k: 0 };
  for (const base of [p, 10 * p]) {
    for (const mul of [1, 2, 2.5, 5]) {
      const st = base * mul;
      const k = Math.max(1, Math.ceil(head / st - 1e-9));
      const top = k * st;
      if (k <= 4 && (top < best.top - 1e-9 || (Math.abs(top - best.top) <= 1e-9 && k > best.k))) best = { step: st, top, k };
    }
  }
  const step = best.step * unit;
  const ymax = best.top === Infinity ? Math.ceil(head / best.step) * step : best.top * unit;
  const values = [];
  for (let v = 0; v <= ymax + step / 2; v += step) values.push(v);
  return { ymax, values };
}

/** @param {number} k cores at the top of the axis: a step (in cores) that divides it */
function niceCoreStep(k) {
  for (const s of [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]) if (k % s === 0 && k / s <= 4) return s;
  return Math.ceil(k / 4);
}

/** @param {HTMLElement} el @param {Store} store @param {object} [_options] */
export function mount(el, store, _options = {}) {
  const shell = paneShell(el, "resources", "Resources");
  const grid = h("div", { class: "ts-res-grid" });
  shell.body.append(grid);
  const charts = CHARTS.map((c) => {
    const value = h("span", { class: "ts-num ts-res-value" });
    const canvas = /** @type {HTMLCanvasElement} */ (h("canvas", { class: "ts-res-canvas", dataset: { chart: c.key } }));
    const legend = h("div", { class: "ts-legend ts-res-legend" },
      c.series.map((s) => h("span", { class: "ts-legend-item" }, [h("span", { class: "ts-swatch", style: { background: s.color } }), s.label])));
    const box = h("div", { class: "ts-res-chart", dataset: { chart: c.key } }, [
      h("div", { class: "ts-res-head" }, [h("span", { class: "ts-res-title", text: c.title }), value]),
      canvas,
      c.series.length > 1 ? legend : null,
    ]);
    grid.append(box);
    return { ...c, value, canvas, box };
  });
  const sat = saturationChart(h, THEME.saturation); // running tasks per worker (saturation.js)
  grid.append(sat.box);

  const frame = frameScheduler(() => draw());
  const requestDraw = frame.request;

  function draw() {
    const view = store.view();
    const ring = view.resources;
    const st = view.state ?? {};
    const th = readTheme(shell.root);
    const n = ring.length;
    const tEnd = n ? Math.max(ring.get(n - 1, 0), st.now ?? -Infinity) : st.now ?? 0;
    const tStart = n ? ring.get(0, 0) : tEnd - 60;
    const span = Math.max(1, tEnd - tStart);
    // y axes first: the widest label sets the left margin, the same for all
    // charts so that stacked charts line up (and "50 MiB" is never clipped)
    const font = `10px ${th.font}`;
    const axes = charts.map((c) => {
      let max = 0;
      for (const s of c.series) for (let i = 0; i < n; i++) max = Math.max(max, ring.get(i, s.field));
      return yAxis(max, c.min, "binary" in c && !!c.binary, "cores" in c && !!c.cores);
    });
    const measure = /** @type {CanvasRenderingContext2D} */ (charts[0].canvas.getContext("2d"));
    measure.font = font;
    let labelW = 0;
    charts.forEach((c, k) => {
      for (const v of axes[k].values) labelW = Math.max(labelW, measure.measureText(c.axis(v)).width);
    });
    const sTasks = binSaturation(view.stream, st.workers ?? [], tStart, tEnd, SATURATION_BINS, st.now ?? tEnd);
    const sAxis = saturationAxis(sTasks.peak, sTasks.slots);
    for (const v of sAxis.values) labelW = Math.max(labelW, measure.measureText(String(v)).width);
    const left = Math.ceil(labelW) + 8;
    charts.forEach((c, k) => {
      const width = Math.max(120, c.box.clientWidth || 300);
      const ctx = fitCanvas(c.canvas, width, CHART_H);
      ctx.clearRect(0, 0, width, CHART_H);
      ctx.font = font;
      const ax = axes[k];
      const ymax = ax.ymax;
      const right = width - 6;
      const top = 6;
      const bottom = CHART_H - 18;
      const X = (/** @type {number} */ t) => left + ((t - tStart) / span) * (right - left);
      const Y = (/** @type {number} */ v) => bottom - (v / ymax) * (bottom - top);
      // grid + y labels
      ctx.strokeStyle = th.grid;
      ctx.fillStyle = th.fg3;
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      ctx.lineWidth = 1;
      const ys = ax;
      ctx.beginPath();
      for (const v of ys.values) {
        const y = Math.round(Y(v)) + 0.5;
        ctx.moveTo(left, y);
        ctx.lineTo(right, y);
      }
      ctx.stroke();
      const axisFmt = c.axis;
      // at most 5 ticks (yAxis): label them all
      for (const v of ys.values) ctx.fillText(axisFmt(v), left - 4, Y(v));
      // x labels: seconds before the newest sample
      const xs = ticks(tStart - tEnd, 0, Math.max(2, Math.floor((right - left) / 70)), 0);
      ctx.textAlign = "center";
      ctx.textBaseline = "alphabetic";
      for (const v of xs.values) {
        const x = X(tEnd + v);
        ctx.textAlign = v === 0 ? "right" : "center";
        ctx.fillText(v === 0 ? "now" : fmt.tickLabel(v, xs.step), v === 0 ? right : x, CHART_H - 4);
      }
      // series
      for (const s of c.series) {
        if (n === 0) break;
        ctx.beginPath();
        for (let i = 0; i < n; i++) {
          const x = X(ring.get(i, 0));
          const y = Y(ring.get(i, s.field));
          if (i === 0) ctx.moveTo(x, y);
          else ctx.lineTo(x, y);
        }
        ctx.strokeStyle = s.color;
        ctx.lineWidth = 1.5;
        ctx.lineJoin = "round";
        ctx.stroke();
        if (s.fill) {
          ctx.lineTo(X(ring.get(n - 1, 0)), bottom);
          ctx.lineTo(X(ring.get(0, 0)), bottom);
          ctx.closePath();
          ctx.fillStyle = alpha(s.color, 0.14);
          ctx.fill();
        }
      }
      if (n === 0) {
        ctx.fillStyle = th.fg3;
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.fillText("no samples yet", (left + right) / 2, (top + bottom) / 2);
      }
      const last = n ? ring.get(n - 1, c.series[0].field) : null;
      setText(c.value, last == null ? "" : c.fmt(last));
      setData(c.canvas, "samples", n);
      setData(c.canvas, "ymax", ymax);
    });
    drawSaturationChart(sTasks, sAxis, left, tStart, tEnd, font, th);
    setData(shell.root, "samples", n);
    setText(shell.extra, n ? `last ${fmt.duration(span)}` : "");
  }

  /**
   * The saturation chart, on the resource charts' time axis and left margin.
   * @param {ReturnType<typeof binSaturation>} s @param {{ymax: number, values: number[]}} ax
   * @param {number} left @param {number} tStart @param {number} tEnd @param {string} font @param {any} th
   */
  function drawSaturationChart(s, ax, left, tStart, tEnd, font, th) {
    const width = Math.max(120, sat.box.clientWidth || 300);
    const ctx = fitCanvas(sat.canvas, width, SATURATION_H);
    ctx.clearRect(0, 0, width, SATURATION_H);
    ctx.font = font;
    const right = width - 6;
    const top = 6;
    const bottom = SATURATION_H - 18;
    const Y = (/** @type {number} */ v) => bottom - (v / ax.ymax) * (bottom - top);
    ctx.strokeStyle = th.grid;
    ctx.fillStyle = th.fg3;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ctx.beginPath();
    for (const v of ax.values) {
      const y = Math.round(Y(v)) + 0.5;
      ctx.moveTo(left, y);
      ctx.lineTo(right, y);
      ctx.fillText(String(v), left - 4, Y(v));
    }
    ctx.stroke();
    drawSaturation(ctx, s, { left, right, top, bottom, ymax: ax.ymax, base: THEME.saturation.color });
    if (s.slots) { // every worker busy: the line the area would reach when saturated
      ctx.strokeStyle = THEME.saturation.color;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(left, Math.round(Y(s.slots)) + 0.5);
      ctx.lineTo(right, Math.round(Y(s.slots)) + 0.5);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    const xs = ticks(tStart - tEnd, 0, Math.max(2, Math.floor((right - left) / 70)), 0);
    ctx.textBaseline = "alphabetic";
    ctx.fillStyle = th.fg3;
    for (const v of xs.values) {
      const x = left + ((v + tEnd - tStart) / Math.max(1, tEnd - tStart)) * (right - left);
      ctx.textAlign = v === 0 ? "right" : "center";
      ctx.fillText(v === 0 ? "now" : fmt.tickLabel(v, xs.step), v === 0 ? right : x, SATURATION_H - 4);
    }
    const bins = s.series[0]?.length ?? 0;
    const lastBin = s.series.reduce((sum, series) => sum + (bins ? series[bins - 1] : 0), 0);
    const mean = s.series.reduce((sum, series) => sum + series.reduce((a, b) => a + b, 0), 0) / Math.max(1, bins);
    // the mean over the window: the last bin alone reads 0% as soon as the work ends
    setText(sat.value, s.slots ? `${fmt.percent(mean / s.slots)} busy on average` : "");
    setData(sat.canvas, "last", Math.round(lastBin * 1000) / 1000);
    setData(sat.canvas, "workers", s.ids.length);
    setData(sat.canvas, "slots", s.slots);
    setData(sat.canvas, "peak", Math.round(s.peak * 1000) / 1000);
    setData(sat.canvas, "mean", Math.round(mean * 1000) / 1000);
    setData(sat.canvas, "ymax", ax.ymax);
  }

  const unResize = onResize(grid, () => requestDraw());
  const unsub = store.subscribe(requestDraw);
  draw();
  return {
    redraw: draw,
    destroy() {
      unsub();
      unResize();
      frame.cancel();
      shell.root.remove();
    },
  };
}
