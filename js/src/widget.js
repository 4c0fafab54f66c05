/**
 * The anywidget module (kernel_ext/widgets.py points `_esm` at the built
 * copy, kernel_ext/static/widget.js, and `_css` at widget.css).
 *
 * One Store per model, fed by the `state` trait and by custom messages
 * carrying the stream/resources deltas of docs/state.md:
 *
 *   model "state" ──setState──▶ Store ──▶ dashboard / compact progress (render)
 *   msg:custom {type: stream|resources, reset, first} + [buffer] ──applyMessage──┘
 *   Store.onGap ──▶ model.send({type: "request_full"})
 *
 * Traits read: state (dict), errors (list, merged into the state as
 * `state.errors`: a separate trait so tracebacks are not resent with every
 * progress update), panes (list; empty = all), call (int|null:
 * per-call compact progress), popout_url (str), frozen (bool, two-way).
 */
import { createStore } from "./store.js";
import { mountDashboard } from "./dashboard.js";

/**
 * @typedef {object} AnyModel
 * @property {(name: string) => any} get
 * @property {(name: string, value: any) => void} set
 * @property {() => void} save_changes
 * @property {(content: any, callbacks?: any, buffers?: any[]) => void} send
 * @property {(name: string, cb: (...args: any[]) => void) => void} on
 * @property {(name?: string | null, cb?: ((...args: any[]) => void) | null) => void} off
 * @typedef {import("./store.js").Store} Store
 */

/**
 * anywidget hands initialize() and render() different proxy objects for one
 * model, so the store is found from render() by the identity of the model's
 * current `state` value (the same object for both proxies), falling back to
 * the proxy itself.
 * @type {WeakMap<object, Store>}
 */
const storesByKey = new WeakMap();

/** @param {any} v */
const isObj = (v) => v !== null && typeof v === "object";

/**
 * Create the model's store and wire it to the model's traits and messages.
 * @param {AnyModel} model
 * @returns {{store: Store, dispose: () => void}}
 */
function attachStore(model) {
  const store = createStore({
    onGap: () => {
      try {
        model.send({ type: "request_full" });
      } catch (e) {
        console.warn("taskscope: could not ask the kernel for a full resync", e);
      }
    },
  });
  const remember = () => {
    const s = model.get("state");
    if (isObj(s)) storesByKey.set(s, store);
  };
  const merged = () => ({ ...(model.get("state") ?? {}), errors: model.get("errors") ?? [] });
  const onState = () => {
    store.setState(merged());
    remember();
  };
  /** @param {any} msg @param {any[]} [buffers] */
  const onMsg = (msg, buffers) => {
    store.applyMessage(msg, buffers ?? []);
  };
  const onFrozen = () => {
    store.frozen = !!model.get("frozen");
  };
  store.setState(merged());
  store.frozen = !!model.get("frozen");
  remember();
  storesByKey.set(model, store);
  model.on("change:state", onState);
  model.on("change:errors", onState);
  model.on("msg:custom", onMsg);
  model.on("change:frozen", onFrozen);
  return {
    store,
    dispose() {
      model.off("change:state", onState);
      model.off("change:errors", onState);
      model.off("msg:custom", onMsg);
      model.off("change:frozen", onFrozen);
    },
  };
}

/**
 * The store initialize() made for a model (tests and debugging).
 * @param {AnyModel} model
 */
export function storeFor(model) {
  const s = model.get("state");
  return storesByKey.get(model) ?? (isObj(s) ? storesByKey.get(s) : undefined);
}

export default {
  /** @param {{model: AnyModel}} ctx */
  initialize({ model }) {
    const { dispose } = attachStore(model);
    // The ring buffers are not part of the synced state: ask for them.
    try {
      model.send({ type: "request_full" });
    } catch {
      /* not connected yet: the first delta's gap will trigger it */
    }
    return dispose;
  },

  /** @param {{model: AnyModel, el: HTMLElement}} ctx */
  render({ model, el }) {
    const s = model.get("state");
    let store = storesByKey.get(model) ?? (isObj(s) ? storesByKey.get(s) : undefined);
    /** @type {(() => void) | null} */
    let ownDispose = null;
    if (!store) {
      // a host without initialize(): this view owns a store of its own
      const own = attachStore(model);
      store = own.store;
      ownDispose = own.dispose;
      try {
        model.send({ type: "request_full" });
      } catch {
        /* ignore */
      }
    }
    const theStore = store;
    const call = model.get("call");
    const dash = mountDashboard(el, theStore, {
      panes: model.get("panes") ?? [],
      call: call == null ? null : Number(call),
      popoutUrl: model.get("popout_url") || null,
      onPanesChange: (panes) => {
        model.set("panes", panes);
        model.save_changes();
      },
      onFreezeChange: (v) => {
        model.set("frozen", v);
        model.save_changes();
      },
    });
    const onPanes = () => dash.setPanes(model.get("panes") ?? []);
    const onPopout = () => dash.setPopoutUrl(model.get("popout_url") || null);
    model.on("change:panes", onPanes);
    model.on("change:popout_url", onPopout);
    return () => {
      model.off("change:panes", onPanes);
      model.off("change:popout_url", onPopout);
      dash.destroy();
      ownDispose?.();
    };
  },
};
