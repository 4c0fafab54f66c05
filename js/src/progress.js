/**
 * Progress pane: one row per call (newest at top, where the running call is)
 * and one row per function (most tasks first, like Dask). A stacked bar per row:
 * released + memory (done, the call's colour), processing (lighter), queued
 * (lighter still), erred (black), cancelled (grey). Click a call row for its
 * function, module, file:line and call site.
 *
 * With options.call it shows only that call, compact, on one line (the
 * automatic per-cell progress bar).
 */
import { h, livePane, paneShell, reconcile, setData, setText } from "./dom.js";
import { createBar, updateBar, doneOf } from "./bars.js";
import { color } from "./colors.js";
import * as fmt from "./format.js";
import { callSummary, mountCompact, pctText, pill, setPill, setIssues } from "./progress-compact.js";

export { callSummary, issuesText } from "./progress-compact.js";

/**
 * @typedef {import("./store.js").Store} Store
 * @typedef {{call?: number | null, onCancel?: ((call: number) => Promise<unknown>) | null}} ProgressOptions
 */

/** @param {any} call */
function detailsOf(call) {
  const cs = call.callsite ?? {};
  /** @type {Array<[string, string | HTMLElement]>} */
  const rows = [
    ["Function", `${call.fn ?? "?"}`],
    ["Module", `${call.module ?? "?"}`],
    ["Defined at", call.file ? `${call.file}:${call.line ?? "?"}` : fmt.DASH],
    ["Called from", cs.file ? `${cs.file}:${cs.line ?? "?"} in ${cs.function ?? "?"}` : fmt.DASH],
  ];
  if (cs.code) rows.push(["Code", h("code", { class: "ts-code" }, [cs.code])]);
  rows.push(["API", `${call.api ?? "?"}`]);
  rows.push(["Items", `${fmt.count(call.submitted)} submitted${call.total == null ? " (length unknown)" : ""}`]);
  const dl = h("dl", { class: "ts-kv" });
  for (const [k, v] of rows) dl.append(h("dt", { text: k }), h("dd", {}, [v]));
  return dl;
}

/** @typedef {{main: HTMLElement, swatch: HTMLElement, name: HTMLElement, bar: ReturnType<typeof createBar>, count: HTMLElement, pct: HTMLElement, issues: HTMLElement, rate: HTMLElement, eta: HTMLElement, elapsed: HTMLElement, status: HTMLElement, details: HTMLElement, detailsKey: string, cancel: HTMLButtonElement | null}} RowRefs */

/**
 * The cell between the percentage and the elapsed time: erred / cancelled
 * counts first, then the rate and ETA. It is one line high; what does not fit
 * wraps onto a hidden second line (ETA first, then the rate), so the counts
 * that matter stay visible.
 * @param {{issues: HTMLElement, rate: HTMLElement, eta: HTMLElement}} r
 */
function infoCell(r) {
  return h("span", { class: "ts-prow-info" }, [r.issues, r.rate, r.eta]);
}

/**
 * @param {HTMLElement} el @param {Store} store @param {ProgressOptions} [options]
 */
export function mount(el, store, options = {}) {
  if (options.call != null) return mountCompact(el, store, options.call);

  const shell = paneShell(el, "progress", "Progress");
  const callsHead = h("div", { class: "ts-subhead", text: "Calls" });
  const calls = h("div", { class: "ts-rows", dataset: { list: "calls" } });
  const fnsHead = h("div", { class: "ts-subhead", text: "Functions" });
  const fns = h("div", { class: "ts-rows", dataset: { list: "functions" } });
  const empty = h("div", { class: "ts-empty", text: "No calls yet — run pool.map(...) to see progress here." });
  shell.body.append(empty, callsHead, calls, fnsHead, fns);

  /** @type {Map<any, HTMLElement>} */
  const callEls = new Map();
  /** @type {Map<any, HTMLElement>} */
  const fnEls = new Map();
  /** @type {WeakMap<HTMLElement, RowRefs>} */
  const refs = new WeakMap();
  /** @type {Set<number>} */
  const expanded = new Set();

  /**
   * The cells every progress row has; the hover texts differ between a call's
   * row and a function's.
   * @param {{rate?: string, eta?: string, elapsed: string}} titles
   */
  function rowCells(titles) {
    return {
      swatch: h("span", { class: "ts-swatch" }),
      name: h("span", { class: "ts-prow-name" }),
      bar: createBar(),
      count: h("span", { class: "ts-num ts-prow-count" }),
      pct: h("span", { class: "ts-num ts-prow-pct", title: "items done (erred and cancelled items are not done)" }),
      issues: h("span", { class: "ts-num ts-issues" }),
      rate: h("span", { class: "ts-num ts-prow-rate", title: titles.rate }),
      eta: h("span", { class: "ts-num ts-prow-eta", title: titles.eta }),
      elapsed: h("span", { class: "ts-num ts-prow-elapsed", title: titles.elapsed }),
    };
  }

  /** A row's visible line, in column order. @param {Omit<RowRefs, "main">} r */
  const lineOf = (r) => [h("span", { class: "ts-prow-label" }, [r.swatch, r.name]), r.bar.el, r.count, r.pct, infoCell(r), r.elapsed, r.status];

  /** @param {any} call */
  function createCallRow(call) {
    const r = {
      ...rowCells({ rate: "items per second (last few seconds)", eta: "estimated time left", elapsed: "elapsed" }),
      status: pill("running"),
      details: h("div", { class: "ts-prow-details", hidden: true }),
      detailsKey: "",
      // Cancelling acts while the notebook cell is busy, so it goes through the Jupyter
      // server (the host gives onCancel), never through the kernel's comm.
      // (Not for a Dask task prefix: the watch has no control socket; cancel with Dask.)
      cancel: options.onCancel && call.api !== "dask"
        ? /** @type {HTMLButtonElement} */ (h("button", { class: "ts-btn ts-cancel", type: "button", text: "Cancel this call", dataset: { action: "cancel-call" } }))
        : null,
    };
    const onCancel = options.onCancel;
    if (r.cancel && onCancel) {
      const btn = r.cancel;
      btn.addEventListener("click", (e) => {
        e.stopPropagation();
        btn.disabled = true;
        setText(btn, "Cancelling…");
        onCancel(Number(call.id)).catch((/** @type {unknown} */ err) => {
          btn.disabled = false;
          setText(btn, "Cancel this call");
          btn.title = `could not cancel: ${String(err)}`;
        });
      });
    }
    const main = h("div", { class: "ts-prow-main", role: "button", tabindex: "0", "aria-expanded": "false" }, lineOf(r));
    const row = h("div", { class: "ts-prow", dataset: { callId: call.id } }, [main, r.details]);
    const toggle = () => {
      const id = Number(row.dataset.callId);
      if (expanded.has(id)) expanded.delete(id);
      else expanded.add(id);
      r.details.hidden = !expanded.has(id);
      main.setAttribute("aria-expanded", String(expanded.has(id)));
      row.classList.toggle("ts-open", expanded.has(id));
    };
    main.addEventListener("click", toggle);
    main.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        toggle();
      }
    });
    refs.set(row, { main, ...r });
    return row;
  }

  /** @param {HTMLElement} row @param {any} call */
  function updateCallRow(row, call) {
    const r = /** @type {RowRefs} */ (refs.get(row));
    const now = store.view().state.now ?? 0;
    const s = callSummary(call, now);
    const ci = call.color ?? 0;
    r.swatch.style.background = color(ci);
    const nameKey = `${call.fn}|${call.api}|${call.id}`;
    if (r.name.dataset.key !== nameKey) {
      r.name.dataset.key = nameKey;
      r.name.replaceChildren(
        h("span", { class: "ts-fn", text: call.fn ?? "?" }),
        h("span", { class: "ts-api", text: call.api ?? "" }),
        h("span", { class: "ts-dim", text: `#${call.id}` }),
      );
      r.name.title = `${call.module ?? ""}.${call.fn ?? ""} — ${call.callsite?.code ?? ""}`;
    }
    updateBar(r.bar, call.counts, s.total, ci, `${call.fn} (${call.api}) #${call.id}`, call.api === "dask");
    setText(r.count, s.countText);
    setText(r.pct, s.pctText);
    setIssues(r.issues, s.erred, s.cancelled);
    setText(r.rate, s.rateText);
    setText(r.eta, s.etaText === fmt.DASH ? "" : "ETA " + s.etaText);
    setText(r.elapsed, s.elapsedText);
    setPill(r.status, call.status ?? "running");
    setData(row, "done", s.done);
    setData(row, "total", call.total ?? "");
    setData(row, "submitted", call.submitted ?? 0);
    setData(row, "erred", s.erred);
    setData(row, "cancelled", s.cancelled);
    setData(row, "processing", call.counts?.processing ?? 0);
    setData(row, "queued", (call.counts?.queued ?? 0) + (call.counts?.waiting ?? 0));
    setData(row, "status", call.status ?? "");
    setData(row, "fn", call.fn ?? "");
    const dk = JSON.stringify([call.fn, call.module, call.file, call.line, call.callsite, call.api, call.submitted, call.total]);
    if (!r.details.hidden || r.detailsKey === "") {
      if (dk !== r.detailsKey) {
        r.detailsKey = dk;
        r.details.replaceChildren(detailsOf(call));
      }
    } else if (dk !== r.detailsKey) {
      r.detailsKey = ""; // rebuild when opened
    }
    if (r.cancel) {
      if (r.cancel.parentElement !== r.details) r.details.append(r.cancel);
      r.cancel.hidden = (call.status ?? "running") !== "running";
    }
  }

  /** @param {any} fn */
  function createFnRow(fn) {
    const r = {
      ...rowCells({ elapsed: "total time spent running it (all workers)" }),
      status: h("span", { class: "ts-prow-err" }),
      details: h("div"),
      detailsKey: "",
      cancel: null,
    };
    const main = h("div", { class: "ts-prow-main" }, lineOf(r));
    const row = h("div", { class: "ts-prow ts-fnrow", dataset: { fn: fn.key } }, [main]);
    refs.set(row, { main, ...r });
    return row;
  }

  /** @param {HTMLElement} row @param {any} fn */
  function updateFnRow(row, fn) {
    const r = /** @type {RowRefs} */ (refs.get(row));
    const ci = fn.color ?? 0;
    r.swatch.style.background = color(ci);
    setText(r.name, fn.name ?? fn.key);
    r.name.title = fn.key ?? "";
    const done = doneOf(fn.counts);
    const fin = done + (fn.counts?.erred ?? 0) + (fn.counts?.cancelled ?? 0);
    // Items cancelled before they were read from the input count as cancelled but never as
    // submitted: without the max, a failed map showed e.g. "15 / 16 313%".
    const total = Math.max(fn.submitted ?? 0, fin);
    updateBar(r.bar, fn.counts, total, ci, fn.key);
    setText(r.count, `${fmt.count(done)} / ${fmt.count(total)}`);
    setText(r.pct, total ? pctText(done / total) : "");
    setText(r.rate, done && fn.time ? fmt.duration(fn.time / done) + "/it" : "");
    r.rate.title = "mean run time per item";
    setText(r.elapsed, fmt.duration(fn.time));
    const erred = fn.counts?.erred ?? 0;
    const cancelled = fn.counts?.cancelled ?? 0;
    setIssues(r.issues, erred, cancelled);
    setData(row, "done", done);
    setData(row, "total", total);
    setData(row, "erred", erred);
    setData(row, "cancelled", cancelled);
  }

  function draw() {
    const st = store.view().state ?? {};
    const callList = [...(st.calls ?? [])].reverse(); // newest at top
    const fnList = [...(st.functions ?? [])].sort((a, b) => (b.submitted ?? 0) - (a.submitted ?? 0));
    reconcile(calls, callEls, callList, (c) => c.id, createCallRow, updateCallRow);
    reconcile(fns, fnEls, fnList, (f) => f.key, createFnRow, updateFnRow);
    empty.hidden = callList.length > 0;
    callsHead.hidden = callList.length === 0;
    // A Dask cluster's rows are its task prefixes, one call each: a per-function list would
    // repeat them.
    const sameAsCalls = callList.length > 0 && callList.every((c) => c.api === "dask");
    fns.hidden = sameAsCalls;
    fnsHead.hidden = sameAsCalls || fnList.length === 0;
    // Dask-like counts in the title bar
    const t = st.totals ?? {};
    let processing = 0;
    let queued = 0;
    let memory = 0;
    for (const f of st.functions ?? []) {
      processing += f.counts?.processing ?? 0;
      queued += (f.counts?.queued ?? 0) + (f.counts?.waiting ?? 0);
      memory += f.counts?.memory ?? 0;
    }
    const parts = [
      `${fmt.count(t.done ?? 0)} / ${fmt.count(t.submitted ?? 0)} done`,
      processing ? `${fmt.count(processing)} processing` : "",
      queued ? `${fmt.count(queued)} queued` : "",
      memory ? `${fmt.count(memory)} in memory` : "",
      t.erred ? `${fmt.count(t.erred)} erred` : "",
      t.cancelled ? `${fmt.count(t.cancelled)} cancelled` : "",
    ].filter(Boolean);
    setText(shell.extra, parts.join(" · "));
    setData(shell.root, "calls", callList.length);
    setData(shell.root, "done", t.done ?? 0);
    setData(shell.root, "submitted", t.submitted ?? 0);
  }

  return livePane(shell, store, draw);
}
