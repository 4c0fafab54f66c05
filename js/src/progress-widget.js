/**
 * The anywidget module of the per-call progress bar (`CallProgress`). In a
 * kernel it is delivered by the code carrier (carrier.js; the widget's own
 * `_esm` is only loader.js, which delegates here); it is also built on its
 * own as kernel_ext/static/progress-widget.js + .css, pulling in only the
 * store, the compact progress row and the formatting helpers.
 *
 * Traits read: state (dict: v, seq, gaps, now, pool, and `calls` holding this
 * call's row only), call (int).
 * No ring buffers: the bar never asks for them (no "request_full").
 */
import { mountCompactRoot } from "./progress-compact.js";
import { relaySnapshot } from "./saved-link.js";
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
    const unrelay = relaySnapshot(model, el);
    return () => {
      unrelay();
      bar.destroy();
      ownDispose?.();
    };
  },
};
