/** Stacked progress bars shared by the progress pane (full and compact). */
import { h } from "./dom.js";
import { color, alpha, ERRED, CANCELLED } from "./colors.js";

/** Segment order, left to right (done first, like Dask). */
export const SEGMENTS = /** @type {const} */ (["released", "memory", "processing", "queued", "erred", "cancelled"]);

/**
 * @typedef {{waiting?: number, queued?: number, processing?: number, memory?: number,
 *            erred?: number, cancelled?: number, released?: number}} Counts
 */

/** @param {Counts | undefined} c */
export function doneOf(c) {
  return c ? (c.released ?? 0) + (c.memory ?? 0) : 0;
}

/**
 * Segment colours for a palette index.
 * @param {number} ci
 */
export function segmentColors(ci) {
  const base = color(ci);
  return {
    released: base,
    memory: base,
    processing: alpha(base, 0.5),
    queued: alpha(base, 0.22),
    erred: ERRED,
    cancelled: CANCELLED,
  };
}

/** @returns {{el: HTMLElement, segs: Record<string, HTMLElement>}} */
export function createBar() {
  /** @type {Record<string, HTMLElement>} */
  const segs = {};
  const el = h("div", { class: "ts-bar", role: "progressbar", "aria-valuemin": "0" });
  for (const s of SEGMENTS) {
    segs[s] = h("div", { class: `ts-seg ts-seg-${s}`, dataset: { seg: s } });
    el.append(segs[s]);
  }
  return { el, segs };
}

/**
 * @param {{el: HTMLElement, segs: Record<string, HTMLElement>}} bar
 * @param {Counts | undefined} counts
 * @param {number} total denominator (items)
 * @param {number} ci palette index
 * @param {string} tipPrefix
 * @param {boolean} [shadeReleased] draw released tasks in a lighter shade than those
 *   still in memory, as Dask's progress bars do (a watched Dask cluster's rows)
 */
export function updateBar(bar, counts, total, ci, tipPrefix = "", shadeReleased = false) {
  const c = counts ?? {};
  const cols = segmentColors(ci);
  if (shadeReleased) cols.released = alpha(cols.memory, 0.55);
  const denom = Math.max(1, total);
  const tip = [];
  for (const s of SEGMENTS) {
    let v = /** @type {any} */ (c)[s] ?? 0;
    if (s === "queued") v += c.waiting ?? 0;
    const pct = Math.min(100, (100 * v) / denom);
    const seg = bar.segs[s];
    const w = pct.toFixed(3) + "%";
    if (seg.style.width !== w) seg.style.width = w;
    const bg = /** @type {any} */ (cols)[s];
    if (seg.dataset.bg !== bg) {
      seg.style.background = bg;
      seg.dataset.bg = bg;
    }
    if (v > 0) tip.push(`${s}: ${v}`);
  }
  const done = doneOf(c);
  bar.el.setAttribute("aria-valuemax", String(total));
  bar.el.setAttribute("aria-valuenow", String(done));
  bar.el.title = (tipPrefix ? tipPrefix + "\n" : "") + tip.join("\n");
}
