/**
 * Workers table: id, pid, status, current task, tasks done, CPU, RSS,
 * utilisation, and MPIRE-style insights (start-up, init, waiting, working,
 * exit times; longest tasks) in a row that opens on click.
 */
import { h, livePane, paneShell, reconcile, setData, setText } from "./dom.js";
import { statusColor } from "./colors.js";
import * as fmt from "./format.js";

/** @typedef {import("./store.js").Store} Store */

export const INSIGHT_KEYS = /** @type {const} */ (["startup", "init", "waiting", "working", "exit"]);
export const INSIGHT_COLORS = { startup: "#b07aa1", init: "#edc948", waiting: "#a9b4c2", working: "#59a14f", exit: "#9c755f" };
const INSIGHT_LABELS = { startup: "start-up", init: "init", waiting: "waiting", working: "working", exit: "exit" };

/** @param {HTMLElement} el @param {Store} store @param {object} [_options] */
export function mount(el, store, _options = {}) {
  const shell = paneShell(el, "workers", "Workers");
  const head = h("thead", {}, [
    h("tr", {}, ["Worker", "PID", "Status", "Current", "Done", "CPU", "RSS", "Utilisation", "Time split"].map((t, i) =>
      h("th", { class: i >= 4 && i <= 6 ? "ts-r" : "", text: t }))),
  ]);
  const table = h("table", { class: "ts-table ts-workers" }, [head]);
  const legend = h("div", { class: "ts-legend" },
    INSIGHT_KEYS.map((k) => h("span", { class: "ts-legend-item" }, [h("span", { class: "ts-swatch", style: { background: INSIGHT_COLORS[k] } }), INSIGHT_LABELS[k]])));
  const empty = h("div", { class: "ts-empty", text: "No workers yet." });
  shell.body.append(empty, h("div", { class: "ts-table-wrap" }, [table]), legend);
  /** @type {Map<any, HTMLElement>} */
  const groups = new Map();
  /** @type {WeakMap<HTMLElement, any>} */
  const refs = new WeakMap();
  /** @type {Set<number>} */
  const open = new Set();

  /** @param {any} w */
  function create(w) {
    const cells = {
      id: h("td", { class: "ts-w-id" }),
      pid: h("td", { class: "ts-num ts-dim" }),
      status: h("td"),
      current: h("td", { class: "ts-w-current" }),
      done: h("td", { class: "ts-num ts-r" }),
      cpu: h("td", { class: "ts-num ts-r" }),
      rss: h("td", { class: "ts-num ts-r" }),
      util: h("td"),
      split: h("td"),
    };
    const dot = h("span", { class: "ts-dot" });
    const statusText = h("span");
    cells.status.append(dot, statusText);
    const utilFill = h("div", { class: "ts-util-fill" });
    const utilText = h("span", { class: "ts-num ts-util-text" });
    cells.util.append(h("div", { class: "ts-util" }, [h("div", { class: "ts-util-track" }, [utilFill]), utilText]));
    /** @type {Record<string, HTMLElement>} */
    const splitSegs = {};
    const split = h("div", { class: "ts-split" });
    for (const k of INSIGHT_KEYS) {
      splitSegs[k] = h("div", { class: "ts-split-seg", style: { background: INSIGHT_COLORS[k] } });
      split.append(splitSegs[k]);
    }
    cells.split.append(split);
    const main = h("tr", { class: "ts-w-main", tabindex: "0", title: "click for insights" }, Object.values(cells));
    const detailCell = h("td", { colspan: "9" });
    const details = h("tr", { class: "ts-w-details", hidden: true }, [detailCell]);
    const group = h("tbody", { dataset: { worker: w.id } }, [main, details]);
    const toggle = () => {
      const id = Number(group.dataset.worker);
      if (open.has(id)) open.delete(id);
      else open.add(id);
      details.hidden = !open.has(id);
      group.classList.toggle("ts-open", open.has(id));
      if (!details.hidden) fillDetails(detailCell, refs.get(group).last);
    };
    main.addEventListener("click", toggle);
    main.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        toggle();
      }
    });
    refs.set(group, { cells, dot, statusText, utilFill, utilText, splitSegs, split, details, detailCell, last: w, detailKey: "" });
    return group;
  }

  /** @param {HTMLElement} cell @param {any} w */
  function fillDetails(cell, w) {
    const ins = w.insights ?? {};
    const total = INSIGHT_KEYS.reduce((s, k) => s + (ins[k] ?? 0), 0);
    const insList = h("dl", { class: "ts-kv ts-kv-insights" });
    for (const k of INSIGHT_KEYS) {
      insList.append(
        h("dt", {}, [h("span", { class: "ts-swatch", style: { background: INSIGHT_COLORS[k] } }), INSIGHT_LABELS[k]]),
        h("dd", { class: "ts-num" }, [`${fmt.duration(ins[k] ?? 0)}  `, h("span", { class: "ts-dim", text: total ? `(${fmt.percent((ins[k] ?? 0) / total)})` : "" })]),
      );
    }
    const life = h("dl", { class: "ts-kv" });
    /** @type {Array<[string, string]>} */
    const lifeRows = [
      ["Started", w.started != null ? fmt.relTime(w.started, store.view().state.pool?.started ?? w.started) : fmt.DASH],
      ["Ended", w.ended != null ? fmt.relTime(w.ended, store.view().state.pool?.started ?? w.ended) : "running"],
    ];
    if (w.exitcode != null) lifeRows.push(["Exit code", String(w.exitcode)]);
    if (w.signal != null) lifeRows.push(["Signal", String(w.signal)]);
    for (const [k, v] of lifeRows) life.append(h("dt", { text: k }), h("dd", { class: "ts-num", text: v }));
    const longest = (w.longest ?? []);
    const lt = h("table", { class: "ts-table ts-longest" }, [
      h("thead", {}, [h("tr", {}, [h("th", { text: "Longest tasks" }), h("th", { class: "ts-r", text: "duration" }), h("th", { text: "argument" })])]),
      h("tbody", {}, longest.length
        ? longest.map((/** @type {any} */ t) => h("tr", {}, [h("td", { text: t.fn }), h("td", { class: "ts-num ts-r", text: fmt.duration(t.duration) }), h("td", {}, [h("code", { class: "ts-code", text: t.arg ?? "" })])]))
        : [h("tr", {}, [h("td", { colspan: "3", class: "ts-dim", text: "none yet" })])]),
    ]);
    cell.replaceChildren(h("div", { class: "ts-w-insights" }, [
      h("div", {}, [h("div", { class: "ts-subhead", text: "Insights" }), insList]),
      h("div", {}, [h("div", { class: "ts-subhead", text: "Lifetime" }), life]),
      h("div", { class: "ts-w-longest" }, [lt]),
    ]));
  }

  /** @param {HTMLElement} group @param {any} w */
  function update(group, w) {
    const r = refs.get(group);
    r.last = w;
    const c = r.cells;
    setText(c.id, w.label ?? `w${w.id}`);
    c.id.title = w.address ? `${w.address}${w.name != null ? ` (name ${w.name})` : ""}, ${fmt.plural(w.nthreads ?? 1, "thread")}${w.resources && Object.keys(w.resources).length ? `, resources ${JSON.stringify(w.resources)}` : ""}` : "";
    setText(c.pid, w.pid ?? fmt.DASH);
    r.dot.style.background = statusColor(w.status);
    setText(r.statusText, w.status ?? "?");
    setText(c.current, w.current ?? "");
    c.current.title = w.current ?? "";
    setText(c.done, fmt.count(w.tasks_done ?? 0));
    setText(c.cpu, fmt.cpu(w.cpu));
    setText(c.rss, fmt.bytes(w.rss));
    const u = Math.max(0, Math.min(1, w.utilisation ?? 0));
    r.utilFill.style.width = `${(u * 100).toFixed(1)}%`;
    r.utilFill.style.background = u >= 0.8 ? "#30a46c" : u >= 0.5 ? "#f5a524" : "#e5484d";
    setText(r.utilText, w.utilisation == null ? fmt.DASH : fmt.percent(u, 0));
    const ins = w.insights ?? {};
    const total = INSIGHT_KEYS.reduce((s, k) => s + (ins[k] ?? 0), 0) || 1;
    const tipLines = [];
    for (const k of INSIGHT_KEYS) {
      r.splitSegs[k].style.width = `${((100 * (ins[k] ?? 0)) / total).toFixed(2)}%`;
      tipLines.push(`${INSIGHT_LABELS[k]}: ${fmt.duration(ins[k] ?? 0)}`);
    }
    r.split.title = tipLines.join("\n");
    group.classList.toggle("ts-gone", w.status === "exited" || w.status === "died");
    setData(group, "status", w.status ?? "");
    setData(group, "tasksDone", w.tasks_done ?? 0);
    setData(group, "pid", w.pid ?? "");
    if (!r.details.hidden) {
      const key = JSON.stringify([w.insights, w.longest, w.ended, w.exitcode, w.signal]);
      if (key !== r.detailKey) {
        r.detailKey = key;
        fillDetails(r.detailCell, w);
      }
    }
  }

  function draw() {
    const st = store.view().state ?? {};
    const ws = [...(st.workers ?? [])].sort((a, b) => a.id - b.id);
    reconcile(table, groups, ws, (w) => w.id, create, update, head);
    empty.hidden = ws.length > 0;
    const busy = ws.filter((w) => w.status === "busy").length;
    const alive = ws.filter((w) => w.status !== "exited" && w.status !== "died").length;
    const died = ws.filter((w) => w.status === "died").length;
    setText(shell.extra, ws.length ? `${busy} busy / ${alive} alive${died ? ` · ${died} died` : ""}` : "");
  }

  return livePane(shell, store, draw);
}
