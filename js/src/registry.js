/**
 * The page-wide meeting point of taskscope's "code carrier" and its widget
 * loaders (kernel_ext/widgets.py; docs in carrier.js and loader.js).
 *
 * anywidget 0.11 sends a widget's `_esm` (and `_css`) in every comm_open and
 * imports it afresh for every model. taskscope opens a progress bar under
 * every `map` cell, so its widgets carry only a small loader; the real code
 * travels once per kernel, in one hidden carrier model, whose module puts it
 * here when the front end creates that model.
 *
 * One registry per page (several notebooks and kernels may share it), with
 * entries keyed by a hash of the carrier bundle, so kernels running different
 * taskscope builds never use each other's code. Keep this shape stable: other
 * taskscope versions on the same page read and write it too.
 */

/** @typedef {{initialize?: Function, render?: Function}} WidgetDef */
/** @typedef {Record<string, WidgetDef>} WidgetModules */
/**
 * @typedef {object} Registry
 * @property {Record<string, WidgetModules>} modules   bundle key -> {dashboard, progress}
 * @property {Record<string, Array<(m: WidgetModules) => void>>} waiters
 */

export const REGISTRY_KEY = "__taskscope_widgets_v1";

/** @returns {Registry} */
export function registry() {
  const g = /** @type {any} */ (globalThis);
  if (!g[REGISTRY_KEY]) g[REGISTRY_KEY] = { modules: {}, waiters: {} };
  return g[REGISTRY_KEY];
}

/**
 * Publish the widget modules of one bundle and wake the loaders waiting for it.
 * @param {string} key @param {WidgetModules} modules
 */
export function register(key, modules) {
  const reg = registry();
  reg.modules[key] = modules;
  const waiting = reg.waiters[key] ?? [];
  delete reg.waiters[key];
  for (const wake of waiting) {
    try {
      wake(modules);
    } catch (e) {
      console.error("taskscope: a widget failed to start", e);
    }
  }
}

/**
 * The modules of one bundle, as soon as its carrier registered them.
 * @param {string} key @returns {Promise<WidgetModules>}
 */
export function whenRegistered(key) {
  const reg = registry();
  const mods = reg.modules[key];
  if (mods) return Promise.resolve(mods);
  return new Promise((resolve) => (reg.waiters[key] ??= []).push(resolve));
}
