/**
 * Task graph: the DAG of submitted tasks (pool.submit with futures as
 * arguments), live, from `state.graph` (docs/state.md; kernel_ext/state_graph.py).
 *
 *   ┌ Task graph ─────────────── 7 tasks · 3 functions ── wheel zoom · drag pan ┐
 *   │ ■ load   2 memory                                                          │  function names and
 *   │ ■ clean  1 processing · 1 queued                                           │  state counts as text
 *   │ ■ merge  1 waiting                                                         │
 *   │ canvas: inputs on top, one layer per longest path (graph-layout.js);       │
 *   │         nodes coloured by state (theme.json "graph_states")                │
 *   │ details of the clicked node: function, key, state, worker, duration, ...   │
 *   └────────────────────────────────────────────────────────────────────────────┘
 *
 * Past MAX_NODES tasks the State sends task groups instead (one node per
 * function, a bar of its state counts; edges carry how many task edges they
 * stand for). Canvas, one fill per state colour, culling to the viewport,
 * labels only where they fit: a frame of 20,000 nodes stays far under 16 ms;
 * the layout is computed once per change of the graph's shape, not per frame.
 */
import { fitCanvas, frameScheduler, h, onResize, paneShell, reconcile, setData, setText } from "./dom.js";
import { color, ERRED_OUTLINE } from "./colors.js";
import { readTheme } from "./theme.js";
import { THEME } from "./theme-data.js";
import * as fmt from "./format.js";
import { layoutGraph, nodeAt } from "./graph-layout.js";

/** @typedef {import("./store.js").Store} Store */

/** Dask's state names, in the order the State codes them. */
export const STATES = ["waiting", "queued", "processing", "memory", "erred", "cancelled", "released"];
export const STATE_COLORS = /** @type {Record<string, string>} */ (THEME.graph_states);
const MAX_HEIGHT = 360;
const LAYER_PX = 64; // a layer's height at most (small graphs get a shorter canvas)
const PAD = 12;
const FILL_X = 0.8; // share of a slot a node covers
const FILL_Y = 0.55;

/** @param {Record<string, number>} counts */
export function countsText(counts) {
  return STATES.filter((s) => counts?.[s]).map((s) => `${fmt.count(counts[s])} ${s}`).join(" · ");
}

/**
 * What the canvas draws, from state.graph: n nodes, flat edges, per-node
 * state code (tasks) or counts (groups), a label and a colour index.
 * @param {any} g state.graph
 */
export function graphModel(g) {
  if (!g) return null;
  const groups = Array.isArray(g.groups) ? g.groups : [];
  const byCall = new Map(groups.map((/** @type {any} */ x) => [x.call, x]));
  if (g.mode === "tasks" && g.nodes) {
    const N = g.nodes;
    const n = N.id.length;
    return {
      mode: "tasks", n, edges: N.edges ?? [], counts: null, groups, byCall,
      state: Uint8Array.from(N.state), key: `t:${n}:${(N.edges ?? []).length}:${N.id[0]}:${N.id[n - 1]}`,
      /** @param {number} i */ label: (i) => byCall.get(N.call[i])?.fn ?? "?",
      /** @param {number} i */ colorOf: (i) => byCall.get(N.call[i])?.color ?? 0,
    };
  }
  const index = new Map(groups.map((/** @type {any} */ x, /** @type {number} */ i) => [x.call, i]));
  const edges = [], counts = [];
  for (const [a, b, c] of g.group_edges ?? []) {
    if (!index.has(a) || !index.has(b)) continue;
    edges.push(index.get(a), index.get(b));
    counts.push(c); // how many task edges it stands for
  }
  return {
    mode: "groups", n: groups.length, edges, counts, groups, byCall, state: null,
    key: `g:${groups.length}:${edges.join(",")}`,
    /** @param {number} i */ label: (i) => groups[i].fn,
    /** @param {number} i */ colorOf: (i) => groups[i].color ?? 0,
  };
}

/** @param {HTMLElement} el @param {Store} store @param {object} [_options] */
export function mount(el, store, _options = {}) {
  const shell = paneShell(el, "graph", "Task graph");
  const info = h("span", { class: "ts-graph-info" });
  shell.extra.append(info, h("span", { class: "ts-dim ts-hint", text: "wheel zoom · drag pan · click a node · double-click fit" }));
  const empty = h("div", { class: "ts-empty", text: "No submitted tasks yet: pool.submit(f, *args), with futures among the arguments, draws its task graph here." });
  const list = h("div", { class: "ts-graph-groups" });
  const canvas = /** @type {HTMLCanvasElement} */ (h("canvas", { class: "ts-graph-canvas", dataset: { nodes: 0 } }));
  const wrap = h("div", { class: "ts-graph-wrap" }, [canvas]);
  const details = h("div", { class: "ts-graph-details", hidden: true });
  const legend = h("div", { class: "ts-legend" }, STATES.map((s) =>
    h("span", { class: "ts-legend-item" }, [h("span", { class: "ts-swatch", style: { background: STATE_COLORS[s] } }), s])));
  shell.body.append(empty, list, wrap, legend, details);

  let width = wrap.clientWidth || 800;
  let HEIGHT = MAX_HEIGHT;
  /** @type {ReturnType<typeof graphModel>} */
  let model = null;
  /** @type {import("./graph-layout.js").Layout | null} */
  let lay = null;
  let layKey = "";
  let view = { k: 1, ox: 0, oy: 0 }; // zoom and pan over the fitted view
  /** @type {number | null} */
  let selected = null; // task id (tasks) or call id (groups)
  let selectedMode = "";
  /** @type {Map<any, HTMLElement>} */
  const rows = new Map();
  const frame = frameScheduler(() => paint());

  /** The fitted slot size (CSS px per layout unit). */
  function base() {
    const w = Math.max(1, lay?.width ?? 1), l = Math.max(1, lay?.layers ?? 1);
    return { sx: Math.min(160, (width - 2 * PAD) / w), sy: Math.min(LAYER_PX, (HEIGHT - 2 * PAD) / l) };
  }

  function update() {
    const st = store.view().state ?? {};
    const g = st.graph;
    model = graphModel(g);
    empty.hidden = !!model;
    wrap.hidden = legend.hidden = !model;
    setData(shell.root, "mode", model?.mode ?? "");
    if (!model) {
      list.replaceChildren();
      rows.clear();
      details.hidden = true;
      return;
    }
    if (model.key !== layKey) {
      const t0 = performance.now();
      lay = layoutGraph(model.n, model.edges);
      HEIGHT = Math.max(120, Math.min(MAX_HEIGHT, lay.layers * LAYER_PX + 2 * PAD));
      setData(canvas, "layoutMs", (performance.now() - t0).toFixed(1));
      layKey = model.key;
    }
    const fns = model.groups.length;
    const grouped = model.mode === "groups";
    setText(info, grouped
      ? `${fmt.count(g.total || model.groups.reduce((/** @type {number} */ t, /** @type {any} */ x) => t + (x.submitted ?? 0), 0))} tasks · grouped by function${g.late ? " (joined late: counts only)" : ` (past ${fmt.count(g.max_nodes)})`}`
      : `${fmt.count(model.n)} ${model.n === 1 ? "task" : "tasks"} · ${fns} ${fns === 1 ? "function" : "functions"}`
        + (g.missed ? ` · ${fmt.count(g.missed)} submitted before this view joined, not drawn` : ""));
    setData(shell.root, "missed", g.missed ?? 0);
    setData(canvas, "nodes", model.n);
    setData(canvas, "edges", model.edges.length / 2);
    reconcile(list, rows, model.groups, (/** @type {any} */ x) => x.call, (/** @type {any} */ x) =>
      h("div", { class: "ts-graph-group" }, [h("span", { class: "ts-swatch", style: { background: color(x.color) } }),
        h("span", { class: "ts-graph-fn", text: x.fn }), h("span", { class: "ts-graph-counts ts-num" })]),
    (row, /** @type {any} */ x) => {
      setData(row, "fn", x.fn);
      setData(row, "call", x.call);
      setData(row, "counts", JSON.stringify(x.counts));
      setText(/** @type {Element} */ (row.lastChild), countsText(x.counts));
    });
    showDetails(st);
    frame.request();
  }

  /** @param {any} st */
  function showDetails(st) {
    const g = st.graph;
    if (selected == null || !model || model.mode !== selectedMode) {
      details.hidden = true;
      return;
    }
    /** @type {Array<[string, string]>} */
    let fields;
    if (model.mode === "tasks") {
      const N = g.nodes;
      const i = N.id.indexOf(selected);
      if (i < 0) {
        details.hidden = true;
        return;
      }
      const d = N.details?.[String(i)] ?? {};
      const fn = model.label(i);
      fields = [["function", fn], ["key", d.key ?? `${fn}-${N.id[i]}`], ["state", STATES[N.state[i]] ?? "?"],
        ["worker", N.worker[i] != null ? `w${N.worker[i]}` : "—"],
        ["duration", N.duration[i] != null ? fmt.duration(N.duration[i]) : "—"],
        ["argument", N.arg?.[i] ?? "—"]];
      if (d.error) fields.push(["error", d.error]);
      setData(details, "state", STATES[N.state[i]] ?? "");
    } else {
      const x = model.byCall.get(selected);
      if (!x) {
        details.hidden = true;
        return;
      }
      const inputs = (g.group_edges ?? []).filter((/** @type {number[]} */ e) => e[1] === selected)
        .map((/** @type {number[]} */ e) => `${model?.byCall.get(e[0])?.fn ?? "?"} (${fmt.count(e[2])} edges)`);
      fields = [["function", x.fn], ["tasks", fmt.count(x.submitted)], ["states", countsText(x.counts) || "—"],
        ["inputs", inputs.join(", ") || "—"]];
      setData(details, "state", "");
    }
    details.hidden = false;
    setData(details, "node", selected);
    details.replaceChildren(...fields.map(([k, v]) => h("div", { class: "ts-graph-field", dataset: { field: k } }, [
      h("span", { class: "ts-graph-k", text: k }), h(k === "argument" || k === "error" ? "code" : "span", { class: "ts-graph-v", text: v })])));
  }

  function paint() {
    if (!model || !lay) return;
    const t0 = performance.now();
    const th = readTheme(shell.root);
    const ctx = fitCanvas(canvas, width, HEIGHT);
    ctx.clearRect(0, 0, width, HEIGHT);
    const { sx: bx, sy: by } = base();
    const sx = bx * view.k, sy = by * view.k;
    const ox = PAD + (width - 2 * PAD - bx * lay.width) / 2 + view.ox, oy = PAD + view.oy;
    const n = model.n, X = lay.x, Y = lay.layer, E = model.edges;
    const w = Math.max(1, sx * FILL_X), hh = Math.max(1, sy * FILL_Y);
    const visible = (/** @type {number} */ px, /** @type {number} */ py) => px + w >= 0 && px <= width && py + hh >= 0 && py <= HEIGHT;
    // edges: one path, input's bottom to dependent's top
    ctx.strokeStyle = th.fg3;
    // thousands of edges overlap: lighter each, so the bundle reads grey, not black
    ctx.globalAlpha = Math.min(0.6, Math.max(0.04, 150 / Math.max(1, E.length / 2)));
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let k = 0; k + 1 < E.length; k += 2) {
      const a = E[k], b = E[k + 1];
      const x1 = ox + X[a] * sx + w / 2, y1 = oy + Y[a] * sy + hh, x2 = ox + X[b] * sx + w / 2, y2 = oy + Y[b] * sy;
      if ((x1 < 0 && x2 < 0) || (x1 > width && x2 > width) || (y1 < 0 && y2 < 0) || (y1 > HEIGHT && y2 > HEIGHT)) continue;
      ctx.moveTo(x1, y1);
      ctx.lineTo(x2, y2);
    }
    ctx.stroke();
    ctx.globalAlpha = 1;
    let drawn = 0;
    if (model.mode === "tasks" && model.state) {
      // one fill per state colour (Skia's fast path for axis-aligned rects)
      const S = model.state;
      for (let s = 0; s < STATES.length; s++) {
        ctx.fillStyle = STATE_COLORS[STATES[s]];
        for (let i = 0; i < n; i++) {
          if (S[i] !== s) continue;
          const px = ox + X[i] * sx, py = oy + Y[i] * sy;
          if (!visible(px, py)) continue;
          ctx.fillRect(px, py, w, hh);
          drawn++;
        }
      }
      if (w >= 3) { // erred nodes outlined (black fill, as Dask, must show on dark themes too)
        ctx.strokeStyle = ERRED_OUTLINE;
        ctx.lineWidth = 1.5;
        for (let i = 0; i < n; i++) if (S[i] === 4) ctx.strokeRect(ox + X[i] * sx, oy + Y[i] * sy, w, hh);
      }
      if (w >= 6 && hh >= 4) { // the function's colour as a stripe on top, as in the other panes
        for (let i = 0; i < n; i++) {
          const px = ox + X[i] * sx, py = oy + Y[i] * sy;
          if (!visible(px, py)) continue;
          ctx.fillStyle = color(model.colorOf(i));
          ctx.fillRect(px, py, w, Math.min(3, hh / 3));
        }
      }
    } else {
      // a group: its function's colour as the frame, a bar of its state counts inside
      for (let i = 0; i < n; i++) {
        const px = ox + X[i] * sx, py = oy + Y[i] * sy;
        if (!visible(px, py)) continue;
        const x = model.groups[i];
        const total = STATES.reduce((t, s) => t + (x.counts?.[s] ?? 0), 0) || 1;
        let cx = px;
        for (const s of STATES) {
          const v = x.counts?.[s] ?? 0;
          if (!v) continue;
          ctx.fillStyle = STATE_COLORS[s];
          ctx.fillRect(cx, py, (w * v) / total, hh);
          cx += (w * v) / total;
        }
        ctx.strokeStyle = color(x.color);
        ctx.lineWidth = 2;
        ctx.strokeRect(px, py, w, hh);
        drawn++;
      }
    }
    // labels where they fit
    if (w >= 40 && hh >= 12) {
      ctx.font = `11px ${th.font}`;
      ctx.textBaseline = "middle";
      ctx.textAlign = "center";
      for (let i = 0; i < n; i++) {
        const px = ox + X[i] * sx, py = oy + Y[i] * sy;
        if (!visible(px, py)) continue;
        const text = model.mode === "groups" ? `${model.label(i)} · ${fmt.count(model.groups[i].submitted)}` : model.label(i);
        ctx.fillStyle = "#ffffff";
        ctx.strokeStyle = "rgba(0,0,0,0.55)";
        ctx.lineWidth = 3;
        const fit = cut(ctx, text, w - 6);
        ctx.strokeText(fit, px + w / 2, py + hh / 2);
        ctx.fillText(fit, px + w / 2, py + hh / 2);
      }
    }
    if (model.counts && n <= 200) { // a task-group edge says how many task edges it stands for
      ctx.font = `10px ${th.font}`;
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillStyle = th.fg2;
      for (let k = 0; k + 1 < E.length; k += 2) {
        const a = E[k], b = E[k + 1], c = fmt.count(model.counts[k / 2]);
        if (a === b) ctx.fillText(`↻ ${c}`, ox + X[a] * sx + w + 4, oy + Y[a] * sy + hh / 2);
        else ctx.fillText(c, ox + ((X[a] + X[b]) / 2) * sx + w / 2 + 3, oy + ((Y[a] + Y[b]) / 2) * sy + hh / 2);
      }
    }
    const sel = selectedIndex();
    if (sel >= 0) {
      ctx.strokeStyle = th.fg;
      ctx.lineWidth = 2;
      ctx.strokeRect(ox + X[sel] * sx - 3, oy + Y[sel] * sy - 3, w + 6, hh + 6);
    }
    setData(canvas, "drawn", drawn);
    setData(canvas, "drawMs", (performance.now() - t0).toFixed(2));
  }

  function selectedIndex() {
    if (selected == null || !model || model.mode !== selectedMode) return -1;
    if (model.mode === "tasks") return (store.view().state?.graph?.nodes?.id ?? []).indexOf(selected);
    return model.groups.findIndex((/** @type {any} */ x) => x.call === selected);
  }

  /** Layout coordinates of a pointer position. @param {MouseEvent} e */
  function toLayout(e) {
    const r = canvas.getBoundingClientRect();
    const { sx: bx, sy: by } = base();
    const ox = PAD + (width - 2 * PAD - bx * (lay?.width ?? 1)) / 2 + view.ox, oy = PAD + view.oy;
    return { lx: (e.clientX - r.left - ox) / (bx * view.k), ly: (e.clientY - r.top - oy) / (by * view.k) };
  }

  /** @type {{x: number, y: number, ox: number, oy: number, moved: boolean} | null} */
  let drag = null;
  canvas.addEventListener("mousedown", (e) => {
    drag = { x: e.clientX, y: e.clientY, ox: view.ox, oy: view.oy, moved: false };
  });
  const onMove = (/** @type {MouseEvent} */ e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (drag.moved) {
      view = { ...view, ox: drag.ox + dx, oy: drag.oy + dy };
      frame.request();
    }
  };
  const onUp = (/** @type {MouseEvent} */ e) => {
    if (drag && !drag.moved && lay && model) pick(e);
    drag = null;
  };
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
  /** @param {MouseEvent} e */
  function pick(e) {
    if (!lay || !model) return;
    const { lx, ly } = toLayout(e);
    const i = nodeAt(lay, lx, ly, FILL_Y);
    const hit = i >= 0 && lx - lay.x[i] <= FILL_X ? i : -1;
    const g = store.view().state?.graph;
    selected = hit < 0 ? null : model.mode === "tasks" ? g.nodes.id[hit] : model.groups[hit].call;
    selectedMode = model.mode;
    showDetails(store.view().state ?? {});
    frame.request();
  }
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    const f = Math.exp(-e.deltaY * 0.0015);
    const k = Math.min(400, Math.max(0.5, view.k * f));
    const px = e.clientX - r.left, py = e.clientY - r.top;
    // zoom around the pointer: the layout point under it stays under it
    const { sx: bx } = base();
    const cx = PAD + (width - 2 * PAD - bx * (lay?.width ?? 1)) / 2;
    const g = k / view.k;
    view = { k, ox: px - cx - (px - cx - view.ox) * g, oy: py - PAD - (py - PAD - view.oy) * g };
    frame.request();
  }, { passive: false });
  canvas.addEventListener("dblclick", () => {
    view = { k: 1, ox: 0, oy: 0 };
    frame.request();
  });
  const stopResize = onResize(wrap, (wpx) => {
    width = Math.max(200, wpx);
    frame.request();
  });
  // For tests and tools: where a node (task id, or a group's call id) is drawn, in CSS px
  // from the canvas' top left corner, or null.
  /** @type {any} */ (canvas).taskscopeGraph = {
    /** @param {number} id */
    center(id) {
      if (!model || !lay) return null;
      const ids = model.mode === "tasks" ? store.view().state?.graph?.nodes?.id ?? [] : model.groups.map((/** @type {any} */ x) => x.call);
      const i = ids.indexOf(id);
      if (i < 0) return null;
      const { sx: bx, sy: by } = base();
      const sx = bx * view.k, sy = by * view.k;
      const ox = PAD + (width - 2 * PAD - bx * lay.width) / 2 + view.ox, oy = PAD + view.oy;
      return { x: ox + lay.x[i] * sx + (sx * FILL_X) / 2, y: oy + lay.layer[i] * sy + (sy * FILL_Y) / 2 };
    },
  };
  update();
  const unsub = store.subscribe(update);
  return {
    redraw: () => paint(),
    destroy() {
      unsub();
      stopResize();
      frame.cancel();
      window.removeEventListener("mousemove", onMove);
      window.removeEventListener("mouseup", onUp);
      shell.root.remove();
    },
  };
}

/** @param {CanvasRenderingContext2D} ctx @param {string} text @param {number} max */
function cut(ctx, text, max) {
  if (ctx.measureText(text).width <= max) return text;
  let s = text;
  while (s.length > 1 && ctx.measureText(s + "…").width > max) s = s.slice(0, -1);
  return s + "…";
}
