/**
 * Memory by function (Dask's memory-use plot): the bytes of results held on workers, one bar
 * per function in its palette colour, largest first, under the memory pane's worker bars.
 *
 *   state.memory_by_function [{key, name, color, bytes, results, workers: {id: bytes}}]
 *       (kernel_ext/state_memflow.py) ──▶ one row per function, scaled to the largest
 *
 * Over live workers the bytes add up to the managed bytes the worker bars show (both come
 * from the same sample). Hidden while nothing is held.
 */
import { h, reconcile, setData, setText } from "./dom.js";
import { color } from "./colors.js";
import * as fmt from "./format.js";

/** Functions listed; the rest are summed into one "… n more" line. */
export const SHOWN_FUNCTIONS = 12;

/**
 * Rows to draw and the line for the rest.
 * @param {any[]} rows state.memory_by_function
 * @returns {{shown: any[], rest: {n: number, bytes: number}, total: number}}
 */
export function functionRows(rows) {
  const sorted = [...(rows ?? [])].filter((r) => r.bytes > 0 || r.results > 0).sort((a, b) => b.bytes - a.bytes);
  const shown = sorted.slice(0, SHOWN_FUNCTIONS);
  const restRows = sorted.slice(SHOWN_FUNCTIONS);
  const total = sorted.reduce((s, r) => s + r.bytes, 0);
  return { shown, rest: { n: restRows.length, bytes: restRows.reduce((s, r) => s + r.bytes, 0) }, total };
}

/** @param {any} r a memory_by_function row */
function tooltip(r) {
  const per = Object.entries(r.workers ?? {})
    .filter(([, b]) => Number(b) > 0)
    .map(([w, b]) => `  ${Number(w) < 0 ? "cluster" : `w${w}`}: ${fmt.bytes(Number(b))}`);
  return `${r.name} (${r.key})\n${fmt.bytes(r.bytes)} in ${fmt.count(r.results)} result${r.results === 1 ? "" : "s"} held` +
    (per.length ? `\n${per.join("\n")}` : "");
}

/**
 * The section, mounted once in the memory pane's body; `draw(state)` on every update.
 * @param {HTMLElement} body
 */
export function mountFunctions(body) {
  const title = h("div", { class: "ts-memfn-title" }, [h("span", { text: "Results held, by function" }), h("span", { class: "ts-num ts-memfn-total" })]);
  const list = h("div", { class: "ts-memfn-list" });
  const more = h("div", { class: "ts-memfn-more" });
  const root = h("div", { class: "ts-memfn", hidden: true }, [title, list, more]);
  body.append(root);
  /** @type {Map<any, HTMLElement>} */
  const rows = new Map();
  /** @type {WeakMap<HTMLElement, any>} */
  const refs = new WeakMap();
  let scale = 1;

  /** @param {any} r */
  function create(r) {
    const parts = {
      label: h("span", { class: "ts-memfn-label" }),
      bar: h("div", { class: "ts-memfn-bar" }),
      value: h("span", { class: "ts-num ts-memfn-value" }),
    };
    const track = h("div", { class: "ts-memfn-track" }, [parts.bar]);
    const row = h("div", { class: "ts-memfn-row", dataset: { fn: r.key } }, [parts.label, track, parts.value]);
    refs.set(row, { ...parts, track });
    return row;
  }

  /** @param {HTMLElement} row @param {any} r */
  function update(row, r) {
    const p = refs.get(row);
    setText(p.label, r.name);
    p.bar.style.width = `${((100 * r.bytes) / scale).toFixed(3)}%`;
    p.bar.style.background = color(r.color);
    setText(p.value, `${fmt.bytes(r.bytes)} · ${fmt.count(r.results)}`);
    row.title = tooltip(r);
    setData(row, "bytes", r.bytes);
    setData(row, "results", r.results);
  }

  /** @param {any} state */
  function draw(state) {
    const { shown, rest, total } = functionRows(state?.memory_by_function);
    root.hidden = shown.length === 0;
    scale = Math.max(1, shown[0]?.bytes ?? 1) * 1.05;
    reconcile(list, rows, shown, (r) => r.key, create, update);
    setText(/** @type {HTMLElement} */ (title.lastChild), `${fmt.bytes(total)} held`);
    more.hidden = rest.n === 0;
    setText(more, rest.n ? `… ${rest.n} more function${rest.n === 1 ? "" : "s"}, ${fmt.bytes(rest.bytes)}` : "");
    setData(root, "total", total);
    setData(root, "functions", shown.length + rest.n);
  }
  return { draw };
}
