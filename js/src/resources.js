/**
 * Resources over time (DaggerWebDash / Dask style): small line charts of CPU
 * total (%), memory (RSS total and managed) and tasks per second, from the
 * resource ring (t, cpu_total, rss_total, tasks_per_s, managed_total).
 */
import { h, setText, setData, fitCanvas, onResize, paneShell } from "./dom.js";
import { alpha } from "./colors.js";
import { readTheme } from "./theme.js";
import { niceStep, ticks } from "./stream-math.js";
import * as fmt from "./format.js";

/** @typedef {import("./store.js").Store} Store */
/** @typedef {import("./ring.js").Ring} Ring */
/** @typedef {{field: number, color: string, label: string, fill?: boolean}} Series */

const CHART_H = 104;
const CHARTS = [
  { key: "cpu", title: "CPU", series: [{ field: 1, color: "#2f80ed", label: "CPU total", fill: true }], fmt: (/** @type {number} */ v) => fmt.cpu(v), axis: (/** @type {number} */ v) => `${Math.round(v)}%`, min: 100 },
  {
    key: "memory", title: "Memory",
    series: [
      { field: 2, color: "#9c6ade", label: "RSS total", fill: true },
      { field: 4, color: "#4e79a7", label: "managed", fill: true },
    ],
    fmt: (/** @type {number} */ v) => fmt.bytes(v), min: 1024 * 1024, binary: true,
  },
  { key: "tasks", title: "Tasks / s", series: [{ field: 3, color: "#30a46c", label: "tasks per second", fill: true }], fmt: (/** @type {number} */ v) => fmt.rate(v, ""), min: 1 },
];

/**
 * A y axis from 0: a nice upper bound and its ticks. With `binary`, steps are
 * nice in the largest power-of-1024 unit below the maximum (so byte axes read
 * 0, 128 MiB, 256 MiB... rather than 0, 191 MiB, 381 MiB).
 * @param {number} max @param {number} floor @param {boolean} [binary]
 * @returns {{ymax: number, values: number[]}}
 */
export function yAxis(max, floor, binary = false) {
  const m = Math.max(max, floor);
  const unit = binary ? Math.pow(1024, Math.max(0, Math.floor(Math.log(m) / Math.log(1024)))) : 1;
  const step = niceStep((m * 1.05) / unit, 4) * unit;
  const ymax = Math.ceil((m * 1.05) / step) * step;
  const values = [];
  for (let v = 0; v <= ymax + step / 2; v += step) values.push(v);
  return { ymax, values };
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
  let raf = 0;

  function requestDraw() {
    if (raf) return;
    const run = () => {
      raf = 0;
      draw();
    };
    raf = typeof requestAnimationFrame === "function" ? requestAnimationFrame(run) : /** @type {any} */ (setTimeout(run, 16));
  }

  function draw() {
    const view = store.view();
    const ring = view.resources;
    const st = view.state ?? {};
    const th = readTheme(shell.root);
    const n = ring.length;
    const tEnd = n ? Math.max(ring.get(n - 1, 0), st.now ?? -Infinity) : st.now ?? 0;
    const tStart = n ? ring.get(0, 0) : tEnd - 60;
    const span = Math.max(1, tEnd - tStart);
    for (const c of charts) {
      const width = Math.max(120, c.box.clientWidth || 300);
      const ctx = fitCanvas(c.canvas, width, CHART_H);
      ctx.clearRect(0, 0, width, CHART_H);
      ctx.font = `10px ${th.font}`;
      let max = 0;
      for (const s of c.series) for (let i = 0; i < n; i++) max = Math.max(max, ring.get(i, s.field));
      const ax = yAxis(max, c.min, "binary" in c && !!c.binary);
      const ymax = ax.ymax;
      const left = 46;
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
      const axisFmt = "axis" in c && c.axis ? c.axis : c.fmt;
      // label every tick when few, else every other one (always the top)
      const every = ys.values.length > 4 ? 2 : 1;
      ys.values.forEach((v, i) => {
        if (i % every === 0 || i === ys.values.length - 1) ctx.fillText(axisFmt(v), left - 4, Y(v));
      });
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
    }
    setData(shell.root, "samples", n);
    setText(shell.extra, n ? `last ${fmt.duration(span)}` : "");
  }

  const unResize = onResize(grid, () => requestDraw());
  const unsub = store.subscribe(requestDraw);
  draw();
  return {
    redraw: draw,
    destroy() {
      unsub();
      unResize();
      shell.root.remove();
    },
  };
}
