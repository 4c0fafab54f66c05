/**
 * The compact, one-line progress bar of one call (the automatic per-cell bar
 * under a `pool.map(...)` cell), and the row arithmetic shared with the full
 * progress pane. Kept apart from progress.js so that the small per-call
 * widget bundle (progress-widget.js) does not pull in the whole dashboard.
 *
 *   ● square map  [██████████░░░]  98%  985 / 1 000  00:12 < 00:01  812/s  1 erred  running
 */
import { h, setText, setData } from "./dom.js";
import { createBar, updateBar, doneOf } from "./bars.js";
import { color, statusColor } from "./colors.js";
import * as fmt from "./format.js";

/** @typedef {import("./store.js").Store} Store */

/** @param {any} call */
export function totalOf(call) {
  return call.total ?? call.submitted ?? 0;
}

/** @param {any} call @param {number} now */
export function elapsedOf(call, now) {
  if (call.started == null) return null;
  return (call.ended ?? now) - call.started;
}

/** @param {string} status */
export function pill(status) {
  return h("span", { class: "ts-pill", dataset: { status } }, [status]);
}

/** @param {HTMLElement} p @param {string} status */
export function setPill(p, status) {
  setText(p, status);
  setData(p, "status", status);
  p.style.setProperty("--ts-pill", statusColor(status));
}

/**
 * "3 erred · 12 cancelled" (empty when neither): items that finished without
 * a result, shown apart from the done count.
 * @param {number} erred @param {number} cancelled
 */
export function issuesText(erred, cancelled) {
  return [erred ? `${fmt.count(erred)} erred` : "", cancelled ? `${fmt.count(cancelled)} cancelled` : ""].filter(Boolean).join(" · ");
}

/**
 * Fill an issues element: erred in red, cancelled dim.
 * @param {HTMLElement} el @param {number} erred @param {number} cancelled
 */
export function setIssues(el, erred, cancelled) {
  const key = `${erred}|${cancelled}`;
  if (el.dataset.key === key) return;
  el.dataset.key = key;
  el.replaceChildren(
    ...(erred ? [h("span", { class: "ts-issue-erred", text: `${fmt.count(erred)} erred` })] : []),
    ...(cancelled ? [h("span", { class: "ts-issue-cancelled", text: `${fmt.count(cancelled)} cancelled` })] : []),
  );
  el.title = issuesText(erred, cancelled);
}

/**
 * A done fraction as a percentage: one decimal below 10% ("3.5%"), none above.
 * @param {number} frac
 */
export function pctText(frac) {
  return fmt.percent(frac, frac >= 0.1 || frac === 0 ? 0 : 1);
}

/**
 * Everything a call row shows, as numbers and strings. The percentage is
 * done / total: erred and cancelled items are finished but not done, so a
 * call with 7 of 200 items done reads "7 / 200  4%" whatever happened to the
 * other 193 (they are counted apart, in `issuesText`).
 * @param {any} call @param {number} now
 */
export function callSummary(call, now) {
  const total = totalOf(call);
  const done = doneOf(call.counts);
  const erred = call.counts?.erred ?? 0;
  const cancelled = call.counts?.cancelled ?? 0;
  const finished = done + erred + cancelled;
  const frac = call.total ? done / call.total : null;
  return {
    total,
    done,
    erred,
    cancelled,
    finished,
    frac,
    countText: `${fmt.count(done)} / ${call.total == null ? "?" : fmt.count(call.total)}`,
    pctText: frac == null ? "" : pctText(frac),
    issuesText: issuesText(erred, cancelled),
    rateText: call.status === "running" ? fmt.rate(call.rate) : "",
    etaText: call.status === "running" ? fmt.eta(call.eta) : fmt.DASH,
    elapsedText: fmt.clock(elapsedOf(call, now)),
  };
}

/**
 * One compact line for one call, like a tqdm bar.
 * @param {HTMLElement} el @param {Store} store @param {number} callId
 */
export function mountCompact(el, store, callId) {
  const bar = createBar();
  const swatch = h("span", { class: "ts-swatch" });
  const name = h("span", { class: "ts-prow-name" });
  const pct = h("span", { class: "ts-num ts-c-pct" });
  const count = h("span", { class: "ts-num ts-c-count" });
  const time = h("span", { class: "ts-num ts-c-time" });
  const rate = h("span", { class: "ts-num ts-c-rate" });
  const status = pill("running");
  const err = h("span", { class: "ts-num ts-c-err ts-issues" });
  const row = h("div", { class: "ts-compact", dataset: { pane: "progress", compact: "1", callId } }, [
    h("span", { class: "ts-prow-label" }, [swatch, name]), bar.el, pct, count, time, rate, h("span", { class: "ts-c-end" }, [err, status]),
  ]);
  el.append(row);

  function draw() {
    const st = store.view().state ?? {};
    const call = (st.calls ?? []).find((/** @type {any} */ c) => c.id === callId);
    if (!call) {
      setText(name, `call #${callId}`);
      setText(pct, "");
      setText(count, "");
      setText(time, "");
      setText(rate, "waiting for the pool…");
      setPill(status, "waiting");
      setData(row, "status", "unknown");
      return;
    }
    const s = callSummary(call, st.now ?? 0);
    const ci = call.color ?? 0;
    swatch.style.background = color(ci);
    const nameKey = `${call.fn}|${call.api}`;
    if (name.dataset.key !== nameKey) {
      name.dataset.key = nameKey;
      name.replaceChildren(h("span", { class: "ts-fn", text: call.fn ?? "?" }), h("span", { class: "ts-api", text: call.api ?? "" }));
      const cs = call.callsite ?? {};
      name.title = `${call.module}.${call.fn} (${call.file}:${call.line})\ncalled from ${cs.file}:${cs.line}: ${cs.code ?? ""}`;
    }
    updateBar(bar, call.counts, s.total, ci);
    setText(pct, s.pctText);
    pct.title = s.frac == null ? "" : "items done (erred and cancelled items are not done)";
    setText(count, s.countText);
    const running = call.status === "running";
    setText(time, running ? `${s.elapsedText} < ${call.eta == null ? "?" : fmt.clock(call.eta)}` : s.elapsedText);
    const el = elapsedOf(call, st.now ?? 0);
    setText(rate, s.rateText || (el && el > 0 ? `${fmt.rate(s.done / el)} avg` : ""));
    setIssues(err, s.erred, s.cancelled);
    setPill(status, call.status ?? "running");
    setData(row, "done", s.done);
    setData(row, "total", call.total ?? "");
    setData(row, "submitted", call.submitted ?? 0);
    setData(row, "erred", s.erred);
    setData(row, "cancelled", s.cancelled);
    setData(row, "status", call.status ?? "");
    setData(row, "fn", call.fn ?? "");
  }

  draw();
  const unsub = store.subscribe(draw);
  return {
    destroy() {
      unsub();
      row.remove();
    },
  };
}

/**
 * The per-call widget's root: `.ts-root.ts-root-compact[data-pool-status]`
 * holding one compact row.
 * @param {HTMLElement} el @param {Store} store @param {number} callId
 */
export function mountCompactRoot(el, store, callId) {
  const root = h("div", { class: "ts-root ts-root-compact" });
  el.append(root);
  const pane = mountCompact(root, store, callId);
  const sync = () => setData(root, "poolStatus", store.view().state?.pool?.status ?? "");
  sync();
  const unsub = store.subscribe(sync);
  return {
    root,
    pane,
    destroy() {
      unsub();
      pane.destroy();
      root.remove();
    },
  };
}
