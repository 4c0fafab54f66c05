/**
 * Task stream: a canvas Gantt chart, one lane per worker, one rectangle per
 * task chunk coloured by function (erred black, cancelled grey).
 *
 * Default view follows the live edge showing the last 1,000 rectangles (as
 * Dask does); wheel zooms around the pointer, drag pans, double-click goes
 * back to live. Draws only on store change or interaction, once per frame;
 * culling and sub-pixel merging (stream-math.js) keep a frame cheap with
 * 100,000 records.
 */
import { fitCanvas, frameScheduler, h, onResize, paneShell, setData, setText } from "./dom.js";
import { color, ERRED, ERRED_OUTLINE, CANCELLED, TRANSFER, DISK, DESERIALIZE, statusColor, rectColor } from "./colors.js";
import { readTheme } from "./theme.js";
import * as fmt from "./format.js";
import {
  RectBuffer, buildRects, laneMap, liveWindow, ticks, timeToX, xToTime,
  zoomWindow, panWindow, hitTest, KEY_ERRED, KEY_CANCELLED, KEY_TRANSFER, KEY_DISK, KEY_DESERIALIZE, SPLIT_PX,
} from "./stream-math.js";

/** @typedef {import("./store.js").Store} Store */

export const LIVE_RECTS = 1000;
const AXIS_H = 22;
const TOP = 4;
const LABEL_PAD = 8;

/**
 * A transfer bar's line: the bytes fetched from another worker for the task it fed, and
 * how fast they came (a local pool's transfer records carry flags bit 5: count = bytes).
 * @param {number} nbytes @param {number} seconds
 */
export function transferText(nbytes, seconds) {
  const rate = seconds > 0 ? ` (${fmt.bytes(nbytes / seconds)}/s)` : "";
  return `${fmt.bytes(nbytes)} fetched from another worker${rate}`;
}

/**
 * Worker ids to show, in lane order: the State's workers; if it has none yet,
 * whatever worker ids the records mention.
 * @param {any} state @param {import("./ring.js").Ring} ring
 * @returns {{ids: number[], labels: string[], status: string[]}}
 */
export function lanesFor(state, ring) {
  const ws = [...(state.workers ?? [])].sort((a, b) => a.id - b.id);
  if (ws.some((w) => Array.isArray(w.lanes))) {
    // A Dask cluster: one lane per worker thread; records name lanes, not workers.
    /** @type {{ids: number[], labels: string[], status: string[]}} */
    const out = { ids: [], labels: [], status: [] };
    for (const w of ws) {
      const lanes = Array.isArray(w.lanes) ? w.lanes : [];
      lanes.forEach((/** @type {number} */ lane, /** @type {number} */ k) => {
        out.ids.push(lane);
        out.labels.push(`${w.label ?? `w${w.id}`}${lanes.length > 1 ? ` #${k}` : ""}`);
        out.status.push(w.status ?? "");
      });
    }
    return out;
  }
  if (ws.length) {
    return {
      ids: ws.map((w) => w.id),
      labels: ws.map((w) => w.label ?? `w${w.id} (${w.pid ?? "?"})`),
      status: ws.map((w) => w.status ?? ""),
    };
  }
  let max = -1;
  for (const [s, e] of ring.spans()) for (let o = s; o < e; o += ring.width) if (ring.data[o + 2] > max) max = ring.data[o + 2];
  const ids = [];
  for (let i = 0; i <= max; i++) ids.push(i);
  return { ids, labels: ids.map((i) => `w${i}`), status: ids.map(() => "") };
}

/** @param {number} k a colour index, or one of the KEY_* of Dask's non-compute bars */
function keyColor(k) {
  return k === KEY_TRANSFER ? TRANSFER : k === KEY_DISK ? DISK : k === KEY_DESERIALIZE ? DESERIALIZE : color(k);
}

/**
 * Function name for a palette index (from state.functions, else calls).
 * @param {any} state @param {number} ci
 */
function fnName(state, ci) {
  const f = (state.functions ?? []).find((/** @type {any} */ x) => x.color === ci);
  if (f) return f.name ?? f.key;
  const c = (state.calls ?? []).find((/** @type {any} */ x) => x.color === ci);
  return c ? c.fn : `colour ${ci}`;
}

/**
 * @param {HTMLElement} el @param {Store} store @param {object} [_options]
 */
export function mount(el, store, _options = {}) {
  const shell = paneShell(el, "task-stream", "Task stream");
  const canvas = /** @type {HTMLCanvasElement} */ (h("canvas", { class: "ts-stream-canvas", dataset: { rects: 0, total: 0, live: 1 } }));
  const tip = h("div", { class: "ts-tooltip", hidden: true, role: "tooltip" });
  const liveBtn = h("button", { class: "ts-btn ts-btn-small", type: "button", title: "Back to the live edge (or double-click the chart)", hidden: true }, ["● live"]);
  const hint = h("span", { class: "ts-dim ts-hint", text: "wheel zoom · drag pan · double-click live" });
  shell.extra.append(h("span", { class: "ts-stream-info" }), hint, liveBtn);
  const info = /** @type {HTMLElement} */ (shell.extra.firstChild);
  const wrap = h("div", { class: "ts-stream-wrap" }, [canvas, tip]);
  shell.body.append(wrap);

  const rects = new RectBuffer();
  let width = wrap.clientWidth || 800;
  let live = true;
  /** @type {{t0: number, t1: number}} */
  let win = { t0: 0, t1: 1 };
  /** @type {{x: number, y: number} | null} */
  let hover = null;
  /** layout of the last frame, for interaction */
  let lay = { x0: 80, pw: 700, laneH: 20, nLanes: 0, lanes: /** @type {Int32Array} */ (laneMap([])), top: TOP };

  const frame = frameScheduler(() => draw());
  const requestDraw = frame.request;

  function draw() {
    const view = store.view();
    const state = view.state ?? {};
    const ring = view.stream;
    const th = readTheme(shell.root);
    const L = lanesFor(state, ring);
    const nLanes = Math.max(1, L.ids.length);
    const laneH = Math.max(12, Math.min(28, Math.floor(200 / nLanes)));
    const height = TOP + nLanes * laneH + AXIS_H;
    const ctx = fitCanvas(canvas, width, height);
    ctx.clearRect(0, 0, width, height);
    ctx.font = `11px ${th.font}`;
    ctx.textBaseline = "middle";

    let labelW = 0;
    for (const s of L.labels) labelW = Math.max(labelW, ctx.measureText(s).width);
    const x0 = Math.ceil(labelW + 14 + LABEL_PAD);
    const pw = Math.max(10, width - x0 - 8);
    const lanes = laneMap(L.ids);
    if (live) win = liveWindow(ring, LIVE_RECTS, state.now);
    lay = { x0, pw, laneH, nLanes, lanes, top: TOP };

    // lane stripes and labels
    for (let l = 0; l < nLanes; l++) {
      const y = TOP + l * laneH;
      if (l % 2 === 1) {
        ctx.fillStyle = th.grid;
        ctx.globalAlpha = 0.5;
        ctx.fillRect(x0, y, pw, laneH);
        ctx.globalAlpha = 1;
      }
      if (L.labels[l]) {
        ctx.fillStyle = statusColor(L.status[l]);
        ctx.beginPath();
        ctx.arc(8, y + laneH / 2, 3, 0, Math.PI * 2);
        ctx.fill();
        ctx.fillStyle = th.fg2;
        ctx.textAlign = "left";
        ctx.fillText(L.labels[l], 16, y + laneH / 2);
      }
    }

    // time grid + axis, labelled relative to the pool's start
    const origin = state.pool?.started ?? win.t0;
    const tk = ticks(win.t0, win.t1, Math.max(2, Math.floor(pw / 90)), origin);
    const axisY = TOP + nLanes * laneH;
    ctx.strokeStyle = th.grid;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const t of tk.values) {
      const x = Math.round(timeToX(t, win.t0, win.t1, x0, pw)) + 0.5;
      ctx.moveTo(x, TOP);
      ctx.lineTo(x, axisY + 4);
    }
    ctx.stroke();
    ctx.strokeStyle = th.border;
    ctx.beginPath();
    ctx.moveTo(x0, axisY + 0.5);
    ctx.lineTo(x0 + pw, axisY + 0.5);
    ctx.stroke();
    ctx.fillStyle = th.fg2;
    ctx.textAlign = "center";
    for (const t of tk.values) {
      const x = timeToX(t, win.t0, win.t1, x0, pw);
      ctx.fillText(fmt.tickLabel(t - origin, tk.step), x, axisY + 12);
    }

    // rectangles: cull + merge, then one fill per colour
    buildRects(ring, lanes, win, x0, pw, rects);
    ctx.save();
    ctx.beginPath();
    ctx.rect(x0, 0, pw, axisY);
    ctx.clip();
    // Draw in device pixels with integer edges: axis-aligned, unantialiased
    // fillRects are Skia's fastest path (a single many-rect path is not).
    const dpr = canvas.width / width;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    const pad = laneH >= 16 ? 2 : 1;
    /** @type {Set<number>} */
    const keys = new Set();
    for (let i = 0; i < rects.n; i++) keys.add(rects.key[i]);
    for (const k of keys) {
      ctx.fillStyle = k === KEY_ERRED ? ERRED : k === KEY_CANCELLED ? CANCELLED : keyColor(k);
      for (let i = 0; i < rects.n; i++) {
        if (rects.key[i] !== k) continue;
        const X0 = Math.round(rects.x0[i] * dpr);
        const X1 = Math.max(X0 + 1, Math.round(rects.x1[i] * dpr));
        const Y1 = Math.round((TOP + (rects.lane[i] + 1) * laneH - pad) * dpr);
        // A Dask transfer, disk or deserialisation bar fills the lower half of its lane:
        // told apart from compute bars whatever the palette's colours.
        const Y0 = k <= KEY_TRANSFER && k >= KEY_DESERIALIZE
          ? Math.round((TOP + (rects.lane[i] + 0.5) * laneH) * dpr)
          : Math.round((TOP + rects.lane[i] * laneH + pad) * dpr);
        // A rectangle as wide as SPLIT_PX keeps a 1 px gap on its right: its neighbour
        // may be the same function's next chunk (see buildRects).
        const gap = X1 - X0 >= SPLIT_PX * dpr ? Math.max(1, Math.round(dpr)) : 0;
        ctx.fillRect(X0, Y0, X1 - X0 - gap, Y1 - Y0);
        if (k === KEY_ERRED && th.dark) {
          ctx.strokeStyle = ERRED_OUTLINE;
          ctx.lineWidth = 1;
          ctx.strokeRect(X0 + 0.5, Y0 + 0.5, X1 - X0 - 1, Y1 - Y0 - 1);
        }
      }
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    // the live edge ("now")
    if (Number.isFinite(state.now)) {
      const xn = timeToX(state.now, win.t0, win.t1, x0, pw);
      if (xn >= x0 && xn <= x0 + pw) {
        ctx.strokeStyle = th.fg3;
        ctx.setLineDash([3, 3]);
        ctx.beginPath();
        ctx.moveTo(Math.round(xn) + 0.5, TOP);
        ctx.lineTo(Math.round(xn) + 0.5, axisY);
        ctx.stroke();
        ctx.setLineDash([]);
      }
    }
    ctx.restore();

    setData(canvas, "rects", rects.n);
    setData(canvas, "visible", rects.visible);
    setData(canvas, "total", ring.length);
    setData(canvas, "streamTotal", state.stream_total ?? ring.end);
    setData(canvas, "live", live ? 1 : 0);
    setData(canvas, "t0", win.t0.toFixed(6));
    setData(canvas, "t1", win.t1.toFixed(6));
    setData(canvas, "layout", `${lay.x0} ${lay.pw} ${lay.laneH} ${lay.top}`); // for tests and tools: where a bar is
    setText(info, `${fmt.count(ring.length)} kept · ${fmt.count(rects.visible)} in view · ${fmt.duration(win.t1 - win.t0)}`);
    liveBtn.hidden = live;
    if (hover) updateTip(state, ring);
  }

  /** @param {any} state @param {import("./ring.js").Ring} ring */
  function updateTip(state, ring) {
    if (!hover) return;
    const { x0, pw, laneH, nLanes, lanes, top } = lay;
    const lane = Math.floor((hover.y - top) / laneH);
    if (hover.x < x0 || lane < 0 || lane >= nLanes) {
      tip.hidden = true;
      return;
    }
    const t = xToTime(hover.x, win.t0, win.t1, x0, pw);
    const tol = (2 * (win.t1 - win.t0)) / pw; // 2 px
    const i = hitTest(ring, lanes, lane, t, tol);
    if (i < 0) {
      tip.hidden = true;
      return;
    }
    const o = ring.offset(i);
    const d = ring.data;
    const [start, end, wid, ci, cnt, flags] = [d[o], d[o + 1], d[o + 2], d[o + 3], d[o + 4], d[o + 5]];
    const w = (state.workers ?? []).find((/** @type {any} */ x) => (Array.isArray(x.lanes) ? x.lanes.includes(wid) : x.id === wid));
    const st = flags & 1 ? "erred" : flags & 2 ? "cancelled" : flags & 4 ? "transfer" : flags & 8 ? "disk" : flags & 16 ? "deserialize" : "";
    tip.replaceChildren(
      h("div", { class: "ts-tip-title" }, [
        h("span", { class: "ts-swatch", style: { background: rectColor(ci, flags) } }),
        fnName(state, ci),
        st ? h("span", { class: "ts-pill", dataset: { status: st }, style: { "--ts-pill": statusColor(st) } }, [st]) : null,
      ]),
      h("div", {}, [w?.label ? `worker ${w.label}` : `worker w${wid}${w ? ` (pid ${w.pid})` : ""}`]),
      h("div", {}, [`duration ${fmt.duration(end - start)}`]),
      h("div", {}, [flags & 32 ? transferText(cnt, end - start) // a pool's fetch: count is bytes (1.4)
        : w?.label ? `${fmt.plural(cnt, "task")} back to back` : `${fmt.plural(cnt, "item")} in chunk`]),
      h("div", {}, [`start ${fmt.relTime(start, state.pool?.started ?? start)}`]),
    );
    tip.hidden = false;
    const tw = tip.offsetWidth;
    const left = hover.x + 14 + tw > width ? hover.x - tw - 10 : hover.x + 14;
    tip.style.left = `${Math.max(0, left)}px`;
    // Below the pointer, moved up as far as needed to stay inside the pane (which clips):
    // with a few lanes the canvas is shorter than the tooltip. It is beside the pointer, so
    // it never covers the bar it describes.
    const room = shell.root.getBoundingClientRect().bottom - wrap.getBoundingClientRect().top - 4;
    tip.style.top = `${Math.max(0, Math.min(hover.y + 12, room - tip.offsetHeight))}px`;
  }

  // interaction
  /** @param {MouseEvent} e */
  const local = (e) => {
    const r = canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  /** @type {{x: number, win: {t0: number, t1: number}} | null} */
  let drag = null;
  canvas.addEventListener("wheel", (e) => {
    const p = local(e);
    if (p.x < lay.x0) return;
    e.preventDefault();
    const pivot = xToTime(p.x, win.t0, win.t1, lay.x0, lay.pw);
    const dy = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
    live = false;
    win = zoomWindow(win, pivot, Math.exp(dy * 0.0015));
    requestDraw();
  }, { passive: false });
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    drag = { x: local(e).x, win };
    canvas.setPointerCapture(e.pointerId);
    canvas.classList.add("ts-dragging");
  });
  canvas.addEventListener("pointermove", (e) => {
    const p = local(e);
    if (drag) {
      const dt = ((drag.x - p.x) * (drag.win.t1 - drag.win.t0)) / lay.pw;
      if (Math.abs(drag.x - p.x) > 2) live = false;
      if (!live) win = panWindow(drag.win, dt);
      hover = null;
      tip.hidden = true;
    } else {
      hover = p;
    }
    requestDraw();
  });
  const endDrag = () => {
    drag = null;
    canvas.classList.remove("ts-dragging");
  };
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);
  canvas.addEventListener("pointerleave", () => {
    hover = null;
    tip.hidden = true;
  });
  const goLive = () => {
    live = true;
    requestDraw();
  };
  canvas.addEventListener("dblclick", goLive);
  liveBtn.addEventListener("click", goLive);

  const unResize = onResize(wrap, (w) => {
    if (w > 0 && w !== width) {
      width = w;
      requestDraw();
    }
  });
  const unsub = store.subscribe(requestDraw);
  draw();

  return {
    /** draw now (synchronously); used by the harness to time a frame */
    redraw: draw,
    /** @param {{t0: number, t1: number} | null} w a fixed window, or null for live */
    setWindow(w) {
      live = !w;
      if (w) win = w;
      draw();
    },
    destroy() {
      unsub();
      unResize();
      frame.cancel();
      shell.root.remove();
    },
  };
}
