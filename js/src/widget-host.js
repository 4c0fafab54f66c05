/**
 * anywidget glue shared by the two widget modules (widget.js: the dashboard;
 * progress-widget.js: the small per-call progress bar): one Store per model,
 * fed by the `state`/`errors`/`call_info` traits and by custom messages
 * carrying finished calls and the stream/resources deltas of docs/state.md.
 *
 * The kernel splits the State into parts that change at different rates,
 * each sent only when it changed: `state` (its `calls` are the calls still
 * running), `errors`, a bar's `call_info` (the never-changing part of its
 * row), and {"type": "calls"} messages holding each finished call once. The
 * store gets them merged back into one State, `calls` in call-id order.
 */
import { createStore } from "./store.js";

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
export const storesByKey = new WeakMap();

/** @param {any} v */
const isObj = (v) => v !== null && typeof v === "object";

/**
 * One State from the model's parts: `state`, plus the finished calls
 * (`callsDone`, merged into `state.calls` by id, in id order), plus `errors`,
 * plus `callInfo` (a bar's fixed fields, under its row's own).
 * @param {any} state @param {any[]} callsDone @param {any} errors @param {any} [callInfo] @param {any} [graph]
 */
export function mergeState(state, callsDone, errors, callInfo, graph) {
  const s = isObj(state) ? state : {};
  const out = { ...s, errors: Array.isArray(errors) ? errors : [] };
  if (isObj(graph) && graph.mode) out.graph = graph; // the `graph` trait (state_graph.py)
  /** @type {any[] | undefined} */
  let calls = Array.isArray(s.calls) ? s.calls : undefined;
  if (Array.isArray(callsDone) && callsDone.length) {
    const byId = new Map();
    for (const c of [...(calls ?? []), ...callsDone]) byId.set(c.id, c);
    calls = [...byId.values()].sort((a, b) => a.id - b.id);
  }
  if (calls && isObj(callInfo) && callInfo.id != null) {
    calls = calls.map((c) => (c.id === callInfo.id ? { ...callInfo, ...c } : c));
  }
  if (calls) out.calls = calls;
  return out;
}

/**
 * The finished calls of one model, from {"type": "calls", reset, oldest,
 * calls} messages: each call arrives once (again only if it changed).
 */
export class FinishedCalls {
  constructor() {
    /** @type {Map<number, any>} */
    this.byId = new Map();
  }

  /** @param {any} msg @returns {boolean} whether it was such a message */
  apply(msg) {
    if (!isObj(msg) || msg.type !== "calls") return false;
    if (msg.reset) this.byId.clear();
    for (const c of Array.isArray(msg.calls) ? msg.calls : []) {
      if (isObj(c) && Number.isFinite(c.id)) this.byId.set(c.id, c);
    }
    // The kernel keeps the newest calls only: drop what it dropped.
    if (Number.isFinite(msg.oldest)) {
      for (const id of this.byId.keys()) if (id < msg.oldest) this.byId.delete(id);
    }
    return true;
  }

  list() {
    return [...this.byId.values()];
  }
}

/**
 * Create the model's store and wire it to the model's traits and messages.
 * @param {AnyModel} model
 * @param {import("./store.js").StoreOptions} [storeOptions]
 * @returns {{store: Store, dispose: () => void}}
 */
export function attachStore(model, storeOptions = {}) {
  const store = createStore({
    ...storeOptions,
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
  const finished = new FinishedCalls();
  const merged = () =>
    mergeState(model.get("state"), finished.list(), model.get("errors"), model.get("call_info"), model.get("graph"));
  const onState = () => {
    store.setState(merged());
    remember();
  };
  /** @param {any} msg @param {any[]} [buffers] */
  const onMsg = (msg, buffers) => {
    if (finished.apply(msg)) onState();
    else store.applyMessage(msg, buffers ?? []);
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
  model.on("change:call_info", onState);
  model.on("change:graph", onState);
  model.on("msg:custom", onMsg);
  model.on("change:frozen", onFrozen);
  return {
    store,
    dispose() {
      model.off("change:state", onState);
      model.off("change:errors", onState);
      model.off("change:call_info", onState);
      model.off("change:graph", onState);
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

/**
 * The store of a model for render(): initialize()'s, or (a host without
 * initialize()) a new one this view owns, with its dispose function.
 * @param {AnyModel} model @param {import("./store.js").StoreOptions} [storeOptions]
 * @param {boolean} [requestFull] ask the kernel for the ring buffers
 * @returns {{store: Store, ownDispose: (() => void) | null}}
 */
export function storeForRender(model, storeOptions = {}, requestFull = true) {
  const s = model.get("state");
  const store = storesByKey.get(model) ?? (isObj(s) ? storesByKey.get(s) : undefined);
  if (store) return { store, ownDispose: null };
  const own = attachStore(model, storeOptions);
  if (requestFull) {
    try {
      model.send({ type: "request_full" });
    } catch {
      /* ignore */
    }
  }
  return { store: own.store, ownDispose: own.dispose };
}
