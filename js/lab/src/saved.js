/**
 * taskscope outputs in saved notebooks: never "Error displaying widget: model not found".
 *
 * A live taskscope widget's output carries, beside the widget view and the static
 * snapshot (text/html), `application/vnd.taskscope.view+json` = {v, model_id, view}
 * (kernel_ext/saved_output.py). For each notebook this plugin registers a renderer for
 * that type, ranked above the ipywidgets renderer (-10), so in a trusted notebook it is
 * the one JupyterLab and Notebook 7 pick. It
 *
 *   1. shows the snapshot at once (what a reopened notebook, a dead kernel, or a page
 *      waiting for its kernel shows);
 *   2. renders the widget with the notebook's own widget renderer, out of sight, and
 *      swaps it in once taskscope's panes drew in it (the model exists: the kernel is
 *      alive). "Loading widget..." or "model not found" never show: that renderer is
 *      dropped when it reports a missing model;
 *   3. writes every snapshot the live widget relays (the kernel's `snapshot` message, as
 *      the `taskscope-snapshot` DOM event from js/src/saved-link.js) into the output's
 *      text/html, so a notebook saved now keeps the last picture; a final one (a bar
 *      that finished, a pool that closed) replaces the whole output by the snapshot;
 *   4. once the live view drew, announces itself to it (the `taskscope-renderer` event):
 *      the widget tells the kernel, which then sends this client no display updates and
 *      draws end-of-cell snapshots off its main thread (kernel_ext/saved_clients.py);
 *   5. when the notebook is saved, asks the kernel for a fresh snapshot (`refresh`); the
 *      save itself cannot wait for it (JupyterLab serialises the notebook as it starts),
 *      so if a newer one arrives the plugin saves once more (`watchSaves`). A busy kernel
 *      answers after its cell: then the periodic snapshot (at most 5 s old) is saved.
 *
 * Untrusted notebooks never run it (safe: false): they show the sanitised text/html.
 */
import { INotebookTracker } from "@jupyterlab/notebook";
import { Panel, Widget } from "@lumino/widgets";

import { dataForSnapshot } from "./model.js";

export const VIEW_MIME = "application/vnd.taskscope.view+json";
export const WIDGET_MIME = "application/vnd.jupyter.widget-view+json";
export const SNAPSHOT_EVENT = "taskscope-snapshot";
export const RENDERER_EVENT = "taskscope-renderer";
/** How long a save waits for the kernel's fresh snapshot before leaving it at that. */
export const REFRESH_TIMEOUT_MS = 3000;
/** Above the ipywidgets renderer (rank -10; a lower rank is preferred). */
export const RANK = -20;
/** What taskscope's panes draw: a live view is showing once one of these exists. */
const LIVE_SELECTOR = ".ts-root, .ts-compact";
const MISSING_TEXT = "Error displaying widget";

class SavedViewRenderer extends Panel {
  /** @param {any} rendermime the notebook's registry (it holds the widget renderer)
   * @param {Set<SavedViewRenderer>} [peers] the notebook's renderers, for its saves */
  constructor(rendermime, peers) {
    super();
    this._rendermime = rendermime;
    this._peers = peers;
    peers?.add(this);
    this._request = null; // asks the live widget's kernel for a fresh snapshot
    this._stored = 0; // snapshots written into the output so far
    this._model = null;
    this._modelId = null;
    this._live = null;
    this._observer = null;
    this.addClass("ts-saved-view");
    this.node.style.position = "relative";
    this._static = new Widget();
    this._static.addClass("ts-saved-static");
    this.addWidget(this._static);
    this._onSnapshot = (/** @type {any} */ e) => this._storeSnapshot(e.detail);
    this.node.addEventListener(SNAPSHOT_EVENT, this._onSnapshot);
  }

  /** @param {any} model */
  async renderModel(model) {
    this._model = model;
    const data = model.data;
    const html = data["text/html"];
    if (typeof html === "string" && this._static.node.dataset.html !== String(html.length) + html.slice(-64)) {
      this._static.node.innerHTML = html; // trusted output only (safe: false)
      this._static.node.dataset.html = String(html.length) + html.slice(-64);
    }
    const view = data[VIEW_MIME];
    const modelId = view && data[WIDGET_MIME] ? String(view.model_id ?? "") : "";
    if (modelId && modelId !== this._modelId) this._mountLive(model, modelId);
    this._showLive(this._hasLive());
  }

  /** @param {any} model @param {string} modelId */
  _mountLive(model, modelId) {
    this._disposeLive();
    this._modelId = modelId;
    let live;
    try {
      live = this._rendermime.createRenderer(WIDGET_MIME);
    } catch {
      return; // no widget manager here: the snapshot is all there is
    }
    this._live = live;
    live.addClass("ts-saved-live");
    this._hide(live.node);
    this.addWidget(live);
    this._observer = new MutationObserver(() => this._check());
    this._observer.observe(live.node, { childList: true, subtree: true, characterData: true });
    live.renderModel(model).catch(() => this._disposeLive());
  }

  _hasLive() {
    return !!this._live && !!this._live.node.querySelector(LIVE_SELECTOR);
  }

  _check() {
    if (!this._live) return;
    if (!this._hasLive() && (this._live.node.textContent ?? "").includes(MISSING_TEXT)) {
      this._disposeLive(); // the model is gone for good: keep the snapshot
      this._showLive(false);
      return;
    }
    if (this._hasLive()) this._link();
    this._showLive(this._hasLive());
  }

  /** Announce this renderer to the live view (once per view): it hands back `request`. */
  _link() {
    if (this._request || !this._live) return;
    const root = this._live.node.querySelector(LIVE_SELECTOR);
    if (!root) return;
    /** @type {{request?: () => Promise<void>}} */
    const detail = {};
    root.dispatchEvent(new CustomEvent(RENDERER_EVENT, { bubbles: true, detail }));
    this._request = detail.request ?? null;
  }

  /**
   * Ask the kernel for a fresh snapshot; resolves to whether a newer one was written into
   * the output since the call (its answer, or any other that came meanwhile).
   * @param {number} [timeoutMs] @returns {Promise<boolean>}
   */
  refresh(timeoutMs = REFRESH_TIMEOUT_MS) {
    const before = this._stored;
    if (!this._request || !this._hasLive()) return Promise.resolve(false);
    const answered = this._request();
    const late = new Promise((resolve) => setTimeout(resolve, timeoutMs));
    return Promise.race([answered, late]).then(() => this._stored > before);
  }

  /** @param {boolean} on */
  _showLive(on) {
    this._static.node.style.display = on ? "none" : "";
    if (this._live) {
      if (on) this._live.node.removeAttribute("style");
      else this._hide(this._live.node);
    }
    this.node.dataset.tsSaved = on ? "live" : "snapshot";
  }

  /** Laid out at full width (panes measure it) but invisible and out of the flow.
   * @param {HTMLElement} node */
  _hide(node) {
    node.style.cssText = "position: absolute; left: 0; top: 0; width: 100%; visibility: hidden; pointer-events: none";
  }

  /** @param {{html: string, final?: boolean}} snap */
  _storeSnapshot(snap) {
    const model = this._model;
    if (!model || typeof model.setData !== "function") return;
    const next = dataForSnapshot(model.data, snap);
    if (next) {
      model.setData({ data: next, metadata: model.metadata });
      this._stored += 1;
    }
  }

  _disposeLive() {
    this._observer?.disconnect();
    this._observer = null;
    if (this._live && !this._live.isDisposed) this._live.dispose();
    this._live = null;
    this._modelId = null;
    this._request = null;
  }

  dispose() {
    if (this.isDisposed) return;
    this._peers?.delete(this);
    this.node.removeEventListener(SNAPSHOT_EVENT, this._onSnapshot);
    this._disposeLive();
    super.dispose();
  }
}

/** The renderer factory for one notebook's rendermime registry.
 * @param {any} rendermime @param {Set<SavedViewRenderer>} [peers] */
export function savedViewFactory(rendermime, peers) {
  return {
    safe: false,
    mimeTypes: [VIEW_MIME],
    defaultRank: RANK,
    createRenderer: () => new SavedViewRenderer(rendermime, peers),
  };
}

/**
 * On every save of a notebook, ask its live taskscope outputs for fresh snapshots, and save
 * once more when one came after the save had serialised the notebook. That follow-up save
 * is not watched itself (no loop), and none is made when nothing changed: a kernel answers
 * "unchanged" without HTML.
 * @param {any} context the notebook's DocumentRegistry.Context
 * @param {Set<SavedViewRenderer>} renderers
 */
export function watchSaves(context, renderers) {
  let following = false;
  context.saveState.connect((/** @type {any} */ _c, /** @type {string} */ state) => {
    if (state !== "started" || following || renderers.size === 0) return;
    const fresh = Promise.all([...renderers].map((r) => r.refresh()));
    const saved = new Promise((resolve) => {
      const onState = (/** @type {any} */ _c2, /** @type {string} */ s) => {
        if (s === "completed" || s === "failed") {
          context.saveState.disconnect(onState);
          resolve(s === "completed");
        }
      };
      context.saveState.connect(onState);
    });
    void Promise.all([fresh, saved]).then(async ([got, ok]) => {
      if (!ok || !got.some(Boolean) || context.isDisposed) return;
      following = true;
      try {
        await context.save();
      } catch (e) {
        console.warn("taskscope: could not save the fresh snapshot", e);
      } finally {
        following = false;
      }
    });
  });
}

export const savedPlugin = {
  id: "taskscope-labextension:saved-outputs",
  description: "taskscope outputs in saved notebooks: the snapshot instead of a widget error",
  autoStart: true,
  // Optional: pages without notebooks (Voila, the pop-out page) have no tracker, and
  // nothing to do here.
  optional: [INotebookTracker],
  /** @param {any} _app @param {any} tracker */
  activate(_app, tracker) {
    if (!tracker) return;
    tracker.widgetAdded.connect((/** @type {any} */ _t, /** @type {any} */ panel) => {
      const rm = panel.content.rendermime;
      const renderers = new Set();
      rm.addFactory(savedViewFactory(rm, renderers), RANK);
      watchSaves(panel.context, renderers);
    });
  },
};
