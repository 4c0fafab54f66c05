/**
 * The `_esm` of every taskscope widget (Dashboard, CallProgress): a small
 * stand-in that waits for the real module, registered page-wide by the
 * kernel's code carrier (carrier.js, registry.js), and hands `initialize` and
 * `render` over to it. anywidget sends `_esm` with every comm_open: this file
 * is what a `map` cell's progress bar costs, so keep it tiny.
 *
 * Traits read: _ts_bundle (str: registry key), _ts_view ("dashboard" |
 * "progress": which module draws this widget).
 *
 * anywidget calls the default export once per model (it imports `_esm` per
 * model), so the closure below is this model's.
 */
import { whenRegistered } from "./registry.js";

/** anywidget fails a model whose initialize() has not finished ~2 s after creation. */
const INIT_WAIT_MS = 1000;
/** After this long without the code, say so in the output. */
const NOTICE_AFTER_MS = 10_000;

/** @typedef {import("./registry.js").WidgetDef} WidgetDef */

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @param {any} model @returns {Promise<WidgetDef>} */
function realModule(model) {
  const view = String(model.get("_ts_view") ?? "dashboard");
  return whenRegistered(String(model.get("_ts_bundle") ?? "")).then((mods) => {
    const def = mods[view];
    if (!def) throw new Error(`taskscope: no "${view}" widget in the registered bundle`);
    return def;
  });
}

export default () => {
  /** @type {Promise<WidgetDef> | null} the real module, once its initialize() ran */
  let ready = null;
  return {
    /** @param {{model: any, signal?: AbortSignal}} ctx */
    async initialize(ctx) {
      /** @type {any} */
      let cleanup;
      let disposed = false;
      ready = realModule(ctx.model).then(async (def) => {
        if (!disposed) cleanup = await def.initialize?.(ctx);
        if (disposed && typeof cleanup === "function") cleanup();
        return def;
      });
      ready.catch((e) => console.error(e));
      // Normally the carrier is already there (it is opened first): finish inside
      // initialize() so the model's first messages reach the real handlers. If it is
      // late, go on without it; the real initialize() runs when it comes (the
      // widget reads its traits then, and the dashboard asks for the rings again).
      await Promise.race([ready, sleep(INIT_WAIT_MS)]).catch(() => {});
      return () => {
        disposed = true;
        if (typeof cleanup === "function") cleanup();
      };
    },

    /** @param {{model: any, el: HTMLElement, signal?: AbortSignal}} ctx */
    async render(ctx) {
      /** @type {HTMLElement | null} */
      let note = null;
      const timer = setTimeout(() => {
        note = document.createElement("div");
        note.textContent = "taskscope: no widget code from the kernel yet; re-run the cell.";
        note.style.cssText = "font:12px sans-serif;opacity:.7";
        note.dataset.taskscopeWaiting = "1";
        ctx.el.append(note);
      }, NOTICE_AFTER_MS);
      let def;
      try {
        def = await (ready ?? realModule(ctx.model));
      } finally {
        clearTimeout(timer);
        /** @type {HTMLElement | null} */ (note)?.remove();
      }
      if (ctx.signal?.aborted) return;
      return def.render?.(ctx);
    },
  };
};
