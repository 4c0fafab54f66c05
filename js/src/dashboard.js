/**
 * The dashboard: a header (pool name, status, workers, totals, controls) over
 * a responsive grid of panes. Used by the widget and the pop-out page.
 *
 *   ┌ header: ● pool-1 running · 4 workers · 00:42 ─ totals ─ [Freeze] [Panes ▾] [Pop out ↗] ┐
 *   │ progress (full width)                                                                   │
 *   │ task stream (full width)                                                                │
 *   │ memory            │ resources                                                           │
 *   │ workers (full width)                                                                    │
 *   └ errors (full width) ────────────────────────────────────────────────────────────────────┘
 */
import { h, setText, setData } from "./dom.js";
import { statusColor } from "./colors.js";
import { THEME } from "./theme-data.js";
import * as fmt from "./format.js";
import * as progress from "./progress.js";
import { mountCompactRoot } from "./progress-compact.js";
import * as taskStream from "./task-stream.js";
import * as memory from "./memory.js";
import * as workers from "./workers.js";
import * as errors from "./errors.js";
import * as resources from "./resources.js";
import * as graph from "./graph.js";
import * as profile from "./profile.js";

/** @typedef {import("./store.js").Store} Store */
/** @typedef {{destroy(): void, redraw?: () => void}} PaneHandle */
/** @typedef {(el: HTMLElement, store: Store, options?: any) => PaneHandle} MountFn */

/** Pane names, in display order, with their titles and mount functions. */
const MOUNTS = /** @type {Record<string, {mount: MountFn, wide: boolean}>} */ ({
  progress: { mount: progress.mount, wide: true },
  "task-stream": { mount: taskStream.mount, wide: true },
  memory: { mount: memory.mount, wide: false },
  resources: { mount: resources.mount, wide: false },
  workers: { mount: workers.mount, wide: true },
  errors: { mount: errors.mount, wide: true },
  graph: { mount: graph.mount, wide: true },
  profile: { mount: profile.mount, wide: true },
});
/** Order and titles from kernel_ext/theme.json (the static snapshot uses the same). */
export const PANES = /** @type {Array<{name: string, title: string, mount: MountFn, wide: boolean, optional?: boolean}>} */ (
  THEME.panes.map((p) => ({ ...p, ...MOUNTS[p.name] })));
export const PANE_NAMES = PANES.map((p) => p.name);
/** The panes shown when none are named: all but the optional ones (the task graph). */
export const DEFAULT_PANES = PANES.filter((p) => !p.optional).map((p) => p.name);

/**
 * The panes shown when none were chosen: all but the optional ones, each of which shows
 * when the pool's flag of its name is set (the profile pane: `Pool(profile=True)`).
 * @param {any} [pool] state.pool
 */
export function defaultPanes(pool) {
  return PANES.filter((p) => !p.optional || Boolean(pool?.[p.name])).map((p) => p.name);
}

/**
 * Normalise a pane list: unknown names dropped, empty = the defaults; accepts
 * "task_stream" / "taskstream" for "task-stream".
 * @param {string[] | null | undefined} panes @param {any} [pool] state.pool
 */
export function normalisePanes(panes, pool) {
  const want = (panes ?? []).map((p) => String(p).toLowerCase().replace(/[_ ]/g, "-").replace(/^taskstream$/, "task-stream"));
  const ok = PANE_NAMES.filter((n) => want.includes(n));
  return ok.length ? ok : defaultPanes(pool);
}

/**
 * @typedef {object} DashboardOptions
 * @property {string[]} [panes] pane names to show (empty = all)
 * @property {number | null} [call] per-call compact progress mode
 * @property {string | null} [popoutUrl] shows a "pop out" link when set
 * @property {(panes: string[]) => void} [onPanesChange]
 * @property {(frozen: boolean) => void} [onFreezeChange]
 * @property {((call: number) => Promise<unknown>) | null} [onCancel] cancel a running call
 *   (through the Jupyter server); without it no cancel buttons are shown
 */

/**
 * @param {HTMLElement} el @param {Store} store @param {DashboardOptions} [opts]
 */
export function mountDashboard(el, store, opts = {}) {
  if (opts.call != null) {
    const compact = mountCompactRoot(el, store, opts.call);
    return {
      root: compact.root,
      panes: { progress: compact.pane },
      /** @param {string} _k @param {string|null} _kind @param {string|null} _t */
      setNotice(_k, _kind, _t) {},
      /** @param {string|null} _u */
      setPopoutUrl(_u) {},
      /** @param {string[]} _p */
      setPanes(_p) {},
      destroy() {
        compact.destroy();
      },
    };
  }

  const root = h("div", { class: "ts-root" });
  el.append(root);

  // ── header ─────────────────────────────────────────────────────────────
  const dot = h("span", { class: "ts-dot ts-dot-lg" });
  const name = h("span", { class: "ts-pool-name" });
  const status = h("span", { class: "ts-pill" });
  const meta = h("span", { class: "ts-head-meta" });
  const stats = h("div", { class: "ts-stats" });
  const frozenBadge = h("span", { class: "ts-badge ts-badge-frozen", hidden: true, text: "frozen" });
  const freezeBtn = h("button", { class: "ts-btn", type: "button", dataset: { action: "freeze" } });
  freezeBtn.addEventListener("click", () => {
    store.frozen = !store.frozen;
    opts.onFreezeChange?.(store.frozen);
  });
  const chooserList = h("div", { class: "ts-menu" });
  const chooser = h("details", { class: "ts-chooser" }, [h("summary", { class: "ts-btn", title: "Choose panes" }, ["Panes"]), chooserList]);
  const popout = /** @type {HTMLAnchorElement} */ (h("a", { class: "ts-btn ts-popout", target: "_blank", rel: "noopener", hidden: true, dataset: { action: "popout" }, title: "Open this dashboard in a browser tab" }, ["Pop out ↗"]));
  const header = h("header", { class: "ts-header" }, [
    h("div", { class: "ts-head-left" }, [dot, name, status, meta, frozenBadge]),
    stats,
    h("div", { class: "ts-controls" }, [freezeBtn, chooser, popout]),
  ]);
  const notices = h("div", { class: "ts-notices" });
  const grid = h("div", { class: "ts-grid" });
  root.append(header, notices, grid);

  // ── panes ──────────────────────────────────────────────────────────────
  let chosen = Boolean(opts.panes?.length); // false: the defaults, which follow the pool's flags
  let shown = normalisePanes(opts.panes, store.view().state?.pool);
  /** @type {Record<string, PaneHandle>} */
  const handles = {};
  /** @type {Record<string, HTMLElement>} */
  const cells = {};
  /** @type {Record<string, HTMLInputElement>} */
  const boxes = {};
  for (const p of PANES) {
    const box = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", value: p.name }));
    box.addEventListener("change", () => {
      const next = PANE_NAMES.filter((n) => (n === p.name ? box.checked : boxes[n].checked));
      if (next.length === 0) {
        box.checked = true;
        return;
      }
      chosen = next.join(" ") !== defaultPanes(store.view().state?.pool).join(" ");
      setPanes(next);
      opts.onPanesChange?.(chosen ? next : []);
    });
    boxes[p.name] = box;
    chooserList.append(h("label", { class: "ts-menu-item" }, [box, p.title]));
  }

  /** @param {string[]} panes */
  function setPanes(panes) {
    shown = normalisePanes(panes, store.view().state?.pool);
    for (const p of PANES) {
      boxes[p.name].checked = shown.includes(p.name);
      const want = shown.includes(p.name);
      if (want && !handles[p.name]) {
        const cell = h("div", { class: `ts-cell${p.wide ? " ts-wide" : ""}`, dataset: { cell: p.name } });
        cells[p.name] = cell;
        handles[p.name] = p.mount(cell, store, p.name === "progress" ? { onCancel: opts.onCancel ?? null } : {});
      } else if (!want && handles[p.name]) {
        handles[p.name].destroy();
        cells[p.name].remove();
        delete handles[p.name];
        delete cells[p.name];
      }
    }
    // order cells; a half-width pane alone in its row spans the full width
    const order = PANES.filter((p) => handles[p.name]);
    const narrow = order.filter((p) => !p.wide).map((p) => p.name);
    for (const p of order) {
      grid.append(cells[p.name]);
      // half-width panes pair up; an odd one out spans the full width
      const alone = narrow.length % 2 === 1 && narrow[narrow.length - 1] === p.name;
      cells[p.name].classList.toggle("ts-wide", p.wide || alone);
    }
    setData(root, "panes", shown.join(" "));
  }
  setPanes(shown);

  /** @type {Map<string, HTMLElement>} */
  const noticeEls = new Map();
  /**
   * Show or clear a notice under the header (e.g. the page's reconnect banner).
   * @param {string} key @param {string | null} kind info|warn|error @param {string | null} text
   */
  function setNotice(key, kind, text) {
    let n = noticeEls.get(key);
    if (!text) {
      n?.remove();
      noticeEls.delete(key);
      return;
    }
    if (!n) {
      n = h("div", { class: "ts-banner", role: "status", dataset: { notice: key } });
      noticeEls.set(key, n);
      notices.append(n);
    }
    setData(n, "kind", kind ?? "info");
    setText(n, text);
  }

  /** @param {string | null | undefined} url */
  function setPopoutUrl(url) {
    popout.hidden = !url;
    if (url) popout.href = url;
  }
  setPopoutUrl(opts.popoutUrl);

  /** @param {string} label @param {string} value @param {string} key @param {string} [cls] */
  const stat = (label, value, key, cls = "") =>
    h("span", { class: `ts-stat ${cls}`, dataset: { stat: key } }, [h("span", { class: "ts-stat-v ts-num", text: value }), h("span", { class: "ts-stat-l", text: label })]);

  function draw() {
    const st = store.view().state ?? {};
    const pool = st.pool ?? {};
    const s = pool.status ?? "starting";
    dot.style.background = statusColor(s);
    setText(name, pool.name ?? "taskscope");
    name.title = pool.scheduler ? `Dask scheduler ${pool.scheduler}, watched from pid ${pool.pid ?? "?"}` : pool.id ? `pool ${pool.id}, pid ${pool.pid ?? "?"}` : "";
    setNotice("source", pool.note ? "warn" : null, pool.note ? `Partial view: ${pool.note}` : null);
    setText(status, s);
    status.style.setProperty("--ts-pill", statusColor(s));
    setData(status, "status", s);
    const ws = st.workers ?? [];
    const alive = ws.filter((/** @type {any} */ w) => w.status !== "exited" && w.status !== "died").length;
    const elapsed = pool.started != null ? (pool.ended ?? st.now ?? pool.started) - pool.started : null;
    setText(meta, [`${alive || pool.n_workers || 0} workers`, pool.scheduler ?? "", elapsed != null ? fmt.clock(elapsed) : ""].filter(Boolean).join(" · "));
    const t = st.totals ?? {};
    const key = JSON.stringify(t);
    if (stats.dataset.key !== key) {
      stats.dataset.key = key;
      stats.replaceChildren(
        stat("submitted", fmt.count(t.submitted ?? 0), "submitted"),
        stat("done", fmt.count(t.done ?? 0), "done"),
        stat("erred", fmt.count(t.erred ?? 0), "erred", t.erred ? "ts-stat-bad" : ""),
        stat("cancelled", fmt.count(t.cancelled ?? 0), "cancelled"),
      );
    }
    setText(freezeBtn, store.frozen ? "▶ Resume" : "❚❚ Freeze");
    freezeBtn.title = store.frozen ? "Resume live updates" : "Freeze the view (data keeps being collected)";
    freezeBtn.classList.toggle("ts-btn-active", store.frozen);
    frozenBadge.hidden = !store.frozen;
    setData(root, "poolStatus", s);
    setData(root, "frozen", store.frozen ? 1 : 0);
    setData(root, "workers", ws.length);
    setData(root, "gaps", st.gaps ?? 0);
    // A pool that profiles gets its profile pane, unless panes were chosen.
    if (!chosen && defaultPanes(pool).join(" ") !== shown.join(" ")) setPanes([]);
  }
  draw();
  const unsub = store.subscribe(draw);

  return {
    root,
    panes: handles,
    setNotice,
    setPopoutUrl,
    /** @param {string[]} p */
    setPanes(p) {
      chosen = Boolean(p?.length);
      setPanes(p);
    },
    destroy() {
      unsub();
      for (const k of Object.keys(handles)) handles[k].destroy();
      root.remove();
    },
  };
}
