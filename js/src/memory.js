/**
 * Memory per worker (Dask's "Bytes per worker"): a horizontal bar of process
 * RSS split into managed (results held on the worker) and unmanaged (the
 * rest), a mark at the memory limit when one is set, and a colour change
 * above 80% / 95% of that limit. Exited and dead workers stay, greyed, with
 * their last RSS; the title's totals count live workers only ("pool closed"
 * once none is left).
 */
import { h, livePane, paneShell, reconcile, setData, setText } from "./dom.js";
import { alpha } from "./colors.js";
import { THEME } from "./theme-data.js";
import * as fmt from "./format.js";
import { mountFunctions } from "./memory-functions.js";

/** @typedef {import("./store.js").Store} Store */

export const LEVEL_COLORS = { ok: THEME.memory.ok, high: THEME.memory.high, critical: THEME.memory.critical };
/** Bars of workers that exited or died: their last sample, in grey. */
export const GONE_COLOR = THEME.memory.gone;
/** Bytes a Dask worker spilled to disk (Dask's grey segment, after RSS). */
export const SPILLED_COLOR = THEME.memory.spilled;

/** @param {any} w */
export const isGone = (w) => w.status === "exited" || w.status === "died";

/**
 * The title-bar summary: totals over live workers only.
 * @param {any[]} workers @param {string | undefined} poolStatus
 * @returns {{text: string, rss: number, managed: number, live: number}}
 */
export function memorySummary(workers, poolStatus) {
  let rss = 0;
  let managed = 0;
  let live = 0;
  for (const w of workers) {
    if (isGone(w)) continue;
    live++;
    rss += w.rss ?? 0;
    managed += w.managed ?? 0;
  }
  const gone = workers.length - live;
  let text = "";
  if (workers.length && live === 0) text = poolStatus === "closed" ? "pool closed" : "no live workers";
  else if (live) text = `${fmt.bytes(rss)} RSS · ${fmt.bytes(managed)} managed` + (gone ? ` · ${live} live` : "");
  return { text, rss, managed, live };
}
export const HIGH = THEME.memory.high_fraction;
export const CRITICAL = THEME.memory.critical_fraction;

/**
 * @param {number} rss @param {number | null | undefined} limit
 * @returns {"ok" | "high" | "critical"}
 */
export function memoryLevel(rss, limit) {
  if (!limit || !(limit > 0)) return "ok";
  const f = rss / limit;
  return f >= CRITICAL ? "critical" : f >= HIGH ? "high" : "ok";
}

/** @param {HTMLElement} el @param {Store} store @param {object} [_options] */
export function mount(el, store, _options = {}) {
  const shell = paneShell(el, "memory", "Memory");
  const list = h("div", { class: "ts-mem-list" });
  const legend = h("div", { class: "ts-legend" }, [
    h("span", { class: "ts-legend-item" }, [h("span", { class: "ts-swatch", style: { background: LEVEL_COLORS.ok } }), "managed (results held)"]),
    h("span", { class: "ts-legend-item" }, [h("span", { class: "ts-swatch", style: { background: alpha(LEVEL_COLORS.ok, THEME.memory.unmanaged_alpha) } }), "unmanaged"]),
    h("span", { class: "ts-legend-item ts-legend-spilled", hidden: true }, [h("span", { class: "ts-swatch", style: { background: SPILLED_COLOR } }), "spilled to disk"]),
    h("span", { class: "ts-legend-item ts-legend-limit" }, [h("span", { class: "ts-limit-key" }), "limit"]),
  ]);
  const empty = h("div", { class: "ts-empty", text: "No workers yet." });
  shell.body.append(empty, list, legend);
  const byFunction = mountFunctions(shell.body); // results held, per function (issue 14)
  /** @type {Map<any, HTMLElement>} */
  const rows = new Map();
  /** @type {WeakMap<HTMLElement, any>} */
  const refs = new WeakMap();
  let scale = 1;
  /** @type {number | null} */
  let poolLimit = null;

  /** @param {any} w */
  function create(w) {
    const r = {
      label: h("span", { class: "ts-mem-label" }),
      managed: h("div", { class: "ts-mem-seg ts-mem-managed" }),
      unmanaged: h("div", { class: "ts-mem-seg ts-mem-unmanaged" }),
      spilled: h("div", { class: "ts-mem-seg ts-mem-spilled", style: { background: SPILLED_COLOR } }),
      limit: h("div", { class: "ts-mem-limit", hidden: true }),
      value: h("span", { class: "ts-num ts-mem-value" }),
      amount: h("span"),
      state: h("span", { class: "ts-mem-state" }),
    };
    r.value.append(r.amount, r.state);
    const track = h("div", { class: "ts-mem-track" }, [r.managed, r.unmanaged, r.spilled, r.limit]);
    const row = h("div", { class: "ts-mem-row", dataset: { worker: w.id } }, [r.label, track, r.value]);
    refs.set(row, { ...r, track });
    return row;
  }

  /** @param {HTMLElement} row @param {any} w */
  function update(row, w) {
    const r = refs.get(row);
    const rss = w.rss ?? 0;
    const managed = Math.min(w.managed ?? 0, rss || (w.managed ?? 0));
    const limit = w.memory_limit ?? poolLimit;
    const level = memoryLevel(rss, limit);
    const gone = isGone(w);
    const c = gone ? GONE_COLOR : LEVEL_COLORS[level];
    const spilled = w.spilled ?? 0;
    setText(r.label, w.label ?? `w${w.id}`);
    r.label.title = `worker ${w.id}, pid ${w.pid ?? "?"} (${w.status ?? "?"})`;
    r.managed.style.width = `${((100 * managed) / scale).toFixed(3)}%`;
    r.unmanaged.style.width = `${((100 * Math.max(0, rss - managed)) / scale).toFixed(3)}%`;
    r.spilled.style.width = `${((100 * spilled) / scale).toFixed(3)}%`;
    r.spilled.hidden = !spilled;
    r.managed.style.background = c;
    r.unmanaged.style.background = alpha(c, THEME.memory.unmanaged_alpha);
    if (limit) {
      r.limit.hidden = false;
      r.limit.style.left = `${((100 * limit) / scale).toFixed(3)}%`;
      r.limit.title = `memory limit ${fmt.bytes(limit)}`;
    } else r.limit.hidden = true;
    setText(r.amount, limit ? `${fmt.bytes(rss)} / ${fmt.bytes(limit)}` : fmt.bytes(rss));
    setText(r.state, gone ? w.status : "");
    setData(r.state, "status", gone ? w.status : "");
    r.state.hidden = !gone;
    r.track.title =
      `w${w.id} (pid ${w.pid ?? "?"})${gone ? `, ${w.status}: last sample` : ""}\nRSS ${fmt.bytes(rss)}\nmanaged ${fmt.bytes(managed)}\nunmanaged ${fmt.bytes(rss - managed)}` +
      (spilled ? `\nspilled to disk ${fmt.bytes(spilled)}` : "") +
      (limit ? `\nlimit ${fmt.bytes(limit)} (${fmt.percent(rss / limit)})` : "");
    row.classList.toggle("ts-gone", gone);
    setData(row, "status", w.status ?? "");
    setData(row, "rss", rss);
    setData(row, "managed", managed);
    setData(row, "limit", limit ?? "");
    setData(row, "spilled", spilled);
    setData(row, "level", level);
  }

  function draw() {
    const st = store.view().state ?? {};
    const ws = [...(st.workers ?? [])].sort((a, b) => a.id - b.id);
    poolLimit = st.pool?.memory_limit ?? null;
    let max = 1;
    for (const w of ws) max = Math.max(max, (w.rss ?? 0) + (w.spilled ?? 0), w.memory_limit ?? poolLimit ?? 0);
    scale = max * 1.08;
    // Dask workers are labelled by address: the label column fits the longest one.
    const longest = ws.reduce((n, w) => Math.max(n, String(w.label ?? "").length), 0);
    list.style.setProperty("--ts-mem-label", longest > 4 ? `${longest + 1}ch` : "36px");
    reconcile(list, rows, ws, (w) => w.id, create, update);
    empty.hidden = ws.length > 0;
    /** @type {HTMLElement} */ (legend.querySelector(".ts-legend-spilled")).hidden = !ws.some((w) => w.spilled);
    /** @type {HTMLElement} */ (legend.querySelector(".ts-legend-limit")).hidden = !ws.some((w) => (w.memory_limit ?? poolLimit));
    byFunction.draw(st);
    const sum = memorySummary(ws, st.pool?.status);
    setText(shell.extra, sum.text);
    setData(shell.root, "totalRss", sum.rss);
    setData(shell.root, "totalManaged", sum.managed);
    setData(shell.root, "live", sum.live);
  }

  return livePane(shell, store, draw);
}
