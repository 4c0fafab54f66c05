/**
 * The code carrier's module (kernel_ext/static/carrier.js): the whole widget
 * front end, sent once per kernel in the comm_open of one hidden anywidget
 * model (`_CodeCarrier` in kernel_ext/widgets.py; never displayed, kept alive
 * by the kernel). anywidget imports a model's `_esm` and runs `initialize()`
 * when the front end *creates* the model, displayed or not: on comm_open, and
 * when a reloaded page restores the kernel's live models. That is when this
 * registers the dashboard and progress-bar modules (registry.js) for the
 * small loaders of the real widgets (loader.js), and adds the stylesheet,
 * once per page and bundle.
 *
 * Traits read: _ts_bundle (str: the bundle's hash, the registry key),
 * _ts_css (str: widget.css, which @imports the progress bar's progress.css).
 */
import dashboard from "./widget.js";
import progress from "./progress-widget.js";
import { register } from "./registry.js";

/** @typedef {import("./widget-host.js").AnyModel} AnyModel */

/** @param {string} key @param {string} css */
function addStyle(key, css) {
  if (!css || typeof document === "undefined") return;
  const id = `taskscope-css-${key}`;
  if (document.getElementById(id)) return;
  const style = document.createElement("style");
  style.id = id;
  style.textContent = css;
  document.head.append(style);
}

export default {
  /** @param {{model: AnyModel}} ctx */
  initialize({ model }) {
    const key = String(model.get("_ts_bundle") ?? "");
    addStyle(key, String(model.get("_ts_css") ?? ""));
    register(key, { dashboard, progress });
  },
};
