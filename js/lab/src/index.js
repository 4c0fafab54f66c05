/**
 * taskscope JupyterLab 4 extension: a left-sidebar panel listing the live
 * taskscope pools of this machine (notebook kernels and plain scripts alike),
 * and opening any pane of one as a main-area tab.
 *
 * Data: `GET {base_url}taskscope/api/pools` (kernel_ext/server/handlers.py),
 * polled every POLL_MS while the panel is visible, through
 * `ServerConnection.makeRequest` (so auth, XSRF and base_url are JupyterLab's).
 * A pane tab is a MainAreaWidget around an iframe of the pop-out page,
 * `{base_url}taskscope/pools/<id>?panes=<pane>`: the same JS pane modules as
 * the widgets (js/src/page.js), so nothing is drawn twice.
 *
 * Plain JavaScript (ES modules), compiled by @jupyterlab/builder's webpack;
 * the @jupyterlab/* and @lumino/* imports are the host's shared singletons.
 */
import { ILayoutRestorer } from "@jupyterlab/application";
import { ICommandPalette, MainAreaWidget, WidgetTracker } from "@jupyterlab/apputils";
import { PageConfig, URLExt } from "@jupyterlab/coreutils";
import { ServerConnection } from "@jupyterlab/services";
import { LabIcon } from "@jupyterlab/ui-components";
import { Widget } from "@lumino/widgets";

import { describeOrigin, offersPane, paneLabel, PANES, poolProgress } from "./model.js";
import { savedPlugin } from "./saved.js";

const PLUGIN_ID = "taskscope-labextension:plugin";
const SIDEBAR_ID = "taskscope-sidebar";
const POLL_MS = 2000;
const POLL_HIDDEN_MS = 10000; // hidden panel: refresh rarely (keeps the list warm)
const CMD_OPEN = "taskscope:open-pane";
const CMD_SHOW = "taskscope:show-sidebar";

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="2" y="4" width="9" height="3" rx="1"/>
    <rect x="7" y="10.5" width="13" height="3" rx="1"/>
    <rect x="4" y="17" width="6" height="3" rx="1"/>
    <rect x="12" y="17" width="9" height="3" rx="1"/>
    <rect x="13" y="4" width="8" height="3" rx="1" opacity="0.5"/>
  </g>
</svg>`;

export const taskscopeIcon = new LabIcon({ name: "taskscope:icon", svgstr: ICON_SVG });

/** `{base_url}taskscope/pools/<id>[?panes=<pane>]`, absolute (PageConfig's base URL). */
export function paneUrl(poolId, pane) {
  const url = URLExt.join(PageConfig.getBaseUrl(), "taskscope/pools", encodeURIComponent(poolId));
  return pane ? `${url}?panes=${encodeURIComponent(pane)}` : url;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "className") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("data-") || k === "title" || k === "role" || k.startsWith("aria-")) node.setAttribute(k, String(v));
    else node[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** The sidebar panel: a header and one card per live pool. */
class PoolsPanel extends Widget {
  constructor(app) {
    super();
    this.app = app;
    this.id = SIDEBAR_ID;
    this.addClass("ts-lab-sidebar");
    this.title.icon = taskscopeIcon;
    this.title.caption = "taskscope: live pools";
    this._timer = 0;
    this._inflight = false;
    this._rows = new Map(); // pool id -> {root, update(pool)}
    this._serverSettings = app.serviceManager.serverSettings;

    const refresh = el("button", { className: "ts-lab-refresh jp-Button", title: "Refresh now", text: "↻" });
    refresh.addEventListener("click", () => void this.refresh());
    this._status = el("div", { className: "ts-lab-error", role: "status" });
    this._list = el("div", { className: "ts-lab-list" });
    this._empty = el("div", { className: "ts-lab-empty" },
      "No live taskscope pools — create one with ", el("code", { text: "taskscope.Pool()" }));
    this.node.append(
      el("header", { className: "ts-lab-header" }, el("h2", { text: "taskscope" }), refresh),
      this._status, this._empty, this._list,
    );
    this.node.dataset.count = "0";
    this.node.dataset.polls = "0";
  }

  onAfterAttach() {
    this._schedule(0);
  }

  onBeforeDetach() {
    clearTimeout(this._timer);
    this._timer = 0;
  }

  onAfterShow() {
    this._schedule(0); // fresh data as soon as the panel opens
  }

  _schedule(ms) {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => void this._tick(), ms);
  }

  async _tick() {
    await this.refresh();
    if (this.isAttached) this._schedule(this.isVisible ? POLL_MS : POLL_HIDDEN_MS);
  }

  /** Fetch the list once and redraw. */
  async refresh() {
    if (this._inflight) return;
    this._inflight = true;
    try {
      const url = URLExt.join(this._serverSettings.baseUrl, "taskscope/api/pools");
      const resp = await ServerConnection.makeRequest(url, { cache: "no-store" }, this._serverSettings);
      if (!resp.ok) {
        const hint = resp.status === 404
          ? " — is the taskscope server extension enabled? (jupyter server extension list)"
          : "";
        throw new Error(`HTTP ${resp.status} from taskscope/api/pools${hint}`);
      }
      const pools = await resp.json();
      this._status.textContent = "";
      this._render(Array.isArray(pools) ? pools : []);
    } catch (err) {
      const msg = err instanceof ServerConnection.NetworkError
        ? "Cannot reach the Jupyter server; retrying…"
        : String(err?.message ?? err);
      this._status.textContent = msg;
    } finally {
      this._inflight = false;
      this.node.dataset.polls = String(Number(this.node.dataset.polls) + 1);
    }
  }

  /** kernel id -> notebook path, from JupyterLab's own session list. */
  _sessionPaths() {
    const paths = new Map();
    try {
      for (const s of this.app.serviceManager.sessions.running()) {
        if (s.kernel?.id) paths.set(s.kernel.id, s.path);
      }
    } catch {
      // no sessions service: origins fall back to "notebook"
    }
    return paths;
  }

  _render(pools) {
    const paths = this._sessionPaths();
    const seen = new Set();
    pools.sort((a, b) => (a.started ?? 0) - (b.started ?? 0) || String(a.name).localeCompare(String(b.name)));
    for (const pool of pools) {
      seen.add(pool.id);
      let row = this._rows.get(pool.id);
      if (!row) {
        row = this._makeRow(pool);
        this._rows.set(pool.id, row);
      }
      row.update(pool, paths);
      this._list.append(row.root); // keeps the sorted order; a no-op when already in place
    }
    for (const [id, row] of this._rows) {
      if (!seen.has(id)) {
        row.root.remove();
        this._rows.delete(id);
      }
    }
    this._empty.hidden = pools.length > 0;
    this.node.dataset.count = String(pools.length);
  }

  _makeRow(pool) {
    const name = el("span", { className: "ts-lab-name" });
    const status = el("span", { className: "ts-lab-status" });
    const origin = el("div", { className: "ts-lab-origin" });
    const workers = el("span", { className: "ts-lab-workers" });
    const count = el("span", { className: "ts-lab-count" });
    const fill = el("div", { className: "ts-lab-bar-fill" });
    const bar = el("div", { className: "ts-lab-bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100 }, fill);
    const buttons = el("div", { className: "ts-lab-panes" });
    const root = el("div", { className: "ts-lab-pool", "data-pool-id": pool.id },
      el("div", { className: "ts-lab-title" }, name, status),
      origin,
      el("div", { className: "ts-lab-meta" }, workers, count),
      bar,
      buttons,
    );
    let current = pool;
    for (const [pane, label] of PANES) {
      const b = el("button", {
        className: `ts-lab-pane-btn${pane ? "" : " ts-lab-pane-all"}`,
        "data-pane": pane || "dashboard",
        title: `Open ${label} of this pool as a tab`,
        text: label,
      });
      b.addEventListener("click", () => {
        void this.app.commands.execute(CMD_OPEN, { id: current.id, name: current.name, pane });
      });
      buttons.append(b);
    }
    const update = (p, paths) => {
      current = p;
      for (const b of buttons.children) {
        const pane = /** @type {HTMLElement} */ (b).dataset.pane ?? "";
        /** @type {HTMLElement} */ (b).hidden = !offersPane(p, pane === "dashboard" ? "" : pane);
      }
      const prog = poolProgress(p);
      const orig = describeOrigin(p, paths);
      name.textContent = p.name || p.id;
      name.title = `pool ${p.id}, pid ${p.pid}`;
      status.textContent = p.status || "starting";
      status.dataset.status = p.status || "starting";
      origin.textContent = orig.text;
      origin.title = orig.title;
      workers.textContent = `${p.workers} worker${p.workers === 1 ? "" : "s"}`;
      count.textContent = prog.text;
      fill.style.width = `${(prog.fraction ?? 0) * 100}%`;
      bar.classList.toggle("ts-lab-bar-idle", prog.fraction === null);
      bar.setAttribute("aria-valuenow", String(Math.round((prog.fraction ?? 0) * 100)));
      Object.assign(root.dataset, {
        name: p.name || "", origin: p.origin || "", originText: orig.text, status: p.status || "",
        workers: String(p.workers ?? 0), fraction: prog.fraction === null ? "" : prog.fraction.toFixed(3),
        finished: String(p.progress?.finished ?? 0),
      });
    };
    return { root, update };
  }
}

/** A main-area tab: the pop-out page (one pane, or all) in an iframe. */
class PaneFrame extends Widget {
  constructor(poolId, pane, url) {
    super();
    this.poolId = poolId;
    this.pane = pane;
    this.addClass("ts-lab-frame");
    this.node.dataset.poolId = poolId;
    this.node.dataset.pane = pane || "dashboard";
    this.iframe = el("iframe", { src: url, title: "taskscope" });
    this.iframe.setAttribute("referrerpolicy", "same-origin");
    this.node.append(this.iframe);
  }
}

const plugin = {
  id: PLUGIN_ID,
  description: "taskscope: a sidebar of live pools whose panes open as tabs.",
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette],
  activate(app, restorer, palette) {
    const tracker = new WidgetTracker({ namespace: "taskscope" });
    const panel = new PoolsPanel(app);

    app.commands.addCommand(CMD_OPEN, {
      label: (args) => (args.id ? `taskscope: ${args.name || args.id} · ${paneLabel(args.pane)}` : "Open a taskscope pane"),
      caption: "Open a pane of a taskscope pool as a main-area tab",
      icon: taskscopeIcon,
      execute: (args) => {
        const id = String(args.id ?? "");
        if (!id) return null;
        const pane = String(args.pane ?? "");
        const existing = tracker.find((w) => w.content.poolId === id && w.content.pane === pane);
        if (existing) {
          app.shell.activateById(existing.id);
          return existing;
        }
        const content = new PaneFrame(id, pane, paneUrl(id, pane));
        const widget = new MainAreaWidget({ content });
        widget.id = `taskscope-${id}-${pane || "dashboard"}`;
        widget.title.label = `taskscope: ${args.name || id} · ${paneLabel(pane)}`;
        widget.title.caption = `${widget.title.label} (pool ${id})`;
        widget.title.icon = taskscopeIcon;
        widget.title.closable = true;
        widget.addClass("ts-lab-pane-tab");
        void tracker.add(widget);
        app.shell.add(widget, "main", { mode: "split-right" });
        app.shell.activateById(widget.id);
        return widget;
      },
    });
    app.commands.addCommand(CMD_SHOW, {
      label: "Show taskscope pools",
      icon: taskscopeIcon,
      execute: () => app.shell.activateById(SIDEBAR_ID),
    });
    palette?.addItem({ command: CMD_SHOW, category: "taskscope" });

    app.shell.add(panel, "left", { rank: 850 });
    if (restorer) {
      restorer.add(panel, SIDEBAR_ID);
      void restorer.restore(tracker, {
        command: CMD_OPEN,
        args: (w) => ({ id: w.content.poolId, pane: w.content.pane,
                        name: w.title.label.replace(/^taskscope: /, "").replace(/ · .*$/, "") }),
        name: (w) => `${w.content.poolId}:${w.content.pane || "dashboard"}`,
      });
    }
  },
};

// The sidebar, and the renderer that keeps taskscope outputs in saved notebooks (saved.js).
export default [plugin, savedPlugin];
