/**
 * Errors: one card per error (newest first): exception type and message,
 * function, worker/pid, call, time, the failing argument's repr, and the
 * remote traceback (collapsed, monospace, with a copy button).
 * A banner says when the pool was interrupted or broke.
 */
import { h, livePane, paneShell, reconcile, setData, setText } from "./dom.js";
import * as fmt from "./format.js";

/** @typedef {import("./store.js").Store} Store */

/** @param {string} text */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.append(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}

/** @param {string | null | undefined} status */
export function bannerFor(status) {
  if (status === "interrupted")
    return { kind: "warn", text: "Interrupted — the pool received KeyboardInterrupt; pending tasks were cancelled." };
  if (status === "broken")
    return { kind: "error", text: "Pool broken — a worker died unexpectedly and the pool can no longer run tasks." };
  return null;
}

/** @param {HTMLElement} el @param {Store} store @param {object} [_options] */
export function mount(el, store, _options = {}) {
  const shell = paneShell(el, "errors", "Errors");
  const banner = h("div", { class: "ts-banner", hidden: true, role: "status" });
  const list = h("div", { class: "ts-err-list" });
  const more = h("div", { class: "ts-dim ts-err-more", hidden: true });
  const empty = h("div", { class: "ts-empty ts-ok", text: "No errors." });
  shell.body.append(banner, empty, list, more);
  /** @type {Map<any, HTMLElement>} */
  const cards = new Map();

  /** @param {any} e */
  function create(e) {
    const st = store.view().state ?? {};
    const t0 = st.pool?.started;
    const call = (st.calls ?? []).find((/** @type {any} */ c) => c.id === e.call);
    const pre = h("pre", { class: "ts-tb", text: e.traceback ?? "" });
    const copyBtn = h("button", { class: "ts-btn ts-btn-small", type: "button", title: "Copy the traceback" }, ["Copy"]);
    copyBtn.addEventListener("click", async (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      const full = `${e.traceback ?? ""}`.trimEnd() + (e.traceback?.includes(e.exc_type) ? "" : `\n${e.exc_type}: ${e.message}`);
      const ok = await copyText(full);
      setText(copyBtn, ok ? "Copied" : "Copy failed");
      setTimeout(() => setText(copyBtn, "Copy"), 1500);
    });
    const meta = [
      h("span", { class: "ts-err-fn" }, [h("code", { text: e.key ? `${e.key}${e.count > 1 ? ` (and ${e.count - 1} more)` : ""}` : `${e.fn ?? "?"}(${e.arg ?? ""})` })]),
      h("span", { text: e.worker_label ? `worker ${e.worker_label}` : e.blame ? "not run" : `worker w${e.worker ?? "?"} (pid ${e.pid ?? "?"})` }),
      call ? h("span", { text: `call #${e.call} ${call.api ?? ""}`, title: call.callsite?.code ?? "" }) : e.call != null ? h("span", { text: `call #${e.call}` }) : null,
      h("span", { text: t0 != null && e.ts != null ? fmt.relTime(e.ts, t0) : "", title: "since the pool started" }),
    ];
    return h("article", { class: "ts-err", dataset: { errorId: e.id, excType: e.exc_type ?? "", call: e.call ?? "", worker: e.worker ?? "" } }, [
      h("div", { class: "ts-err-head" }, [
        h("span", { class: "ts-err-type", text: e.exc_type ?? "Error" }),
        h("span", { class: "ts-err-msg", text: e.message ?? "" }),
      ]),
      h("div", { class: "ts-err-meta" }, meta),
      h("details", { class: "ts-err-details" }, [
        h("summary", {}, ["Traceback", h("span", { class: "ts-spacer" }), copyBtn]),
        pre,
      ]),
    ]);
  }

  function draw() {
    const st = store.view().state ?? {};
    const errs = [...(st.errors ?? [])].reverse();
    reconcile(list, cards, errs, (e) => e.id, create, () => {});
    empty.hidden = errs.length > 0;
    const total = st.errors_total ?? errs.length;
    more.hidden = total <= errs.length;
    setText(more, `Showing the latest ${fmt.count(errs.length)} of ${fmt.count(total)} errors.`);
    const b = bannerFor(st.pool?.status);
    banner.hidden = !b;
    if (b) {
      setText(banner, b.text);
      setData(banner, "kind", b.kind);
    }
    setText(shell.extra, total ? `${fmt.count(total)} total` : "");
    shell.root.classList.toggle("ts-has-errors", total > 0);
    setData(shell.root, "errorsTotal", total);
    setData(shell.root, "errorsShown", errs.length);
  }

  return livePane(shell, store, draw);
}
