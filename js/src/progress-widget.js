/**
 * The anywidget module of the per-call progress bar (kernel_ext/widgets.py:
 * `CallProgress._esm` points at the built copy, kernel_ext/static/
 * progress-widget.js, and `_css` at progress-widget.css).
 *
 * anywidget sends a widget's whole module and stylesheet with every
 * comm_open, and taskscope opens one of these under every `map` cell: so this
 * entry pulls in only the store, the compact progress row and the formatting
 * helpers, not the dashboard's panes.
 *
 * Traits read: state (dict; its `calls` hold this call's row only), call (int).
 * No ring buffers: the bar never asks for them (no "request_full").
 */
import { mountCompactRoot } from "./progress-compact.js";
import { attachStore, storeForRender } from "./widget-host.js";

/** @typedef {import("./widget-host.js").AnyModel} AnyModel */

/** The rings stay empty here: do not allocate the dashboard's 100 000 records. */
const STORE_OPTIONS = { streamCapacity: 1, resourceCapacity: 1 };

export default {
  /** @param {{model: AnyModel}} ctx */
  initialize({ model }) {
    return attachStore(model, STORE_OPTIONS).dispose;
  },

  /** @param {{model: AnyModel, el: HTMLElement}} ctx */
  render({ model, el }) {
    const { store, ownDispose } = storeForRender(model, STORE_OPTIONS, false);
    const bar = mountCompactRoot(el, store, Number(model.get("call") ?? -1));
    return () => {
      bar.destroy();
      ownDispose?.();
    };
  },
};
