/** Test helper (no tests here): a stand-in for anywidget's model. */

/** A stand-in for anywidget's model proxy; `proxy()` gives another proxy of the same model. */
export function fakeModel(/** @type {Record<string, any>} */ traits = {}) {
  /** @type {Record<string, Function[]>} */
  const handlers = {};
  /** @type {any[]} */
  const sent = [];
  const base = {
    sent,
    handlers,
    get: (/** @type {string} */ k) => traits[k],
    set: (/** @type {string} */ k, /** @type {any} */ v) => {
      traits[k] = v;
      (handlers["change:" + k] ?? []).forEach((cb) => cb());
    },
    save_changes() {},
    send: (/** @type {any} */ m) => sent.push(m),
    on: (/** @type {string} */ n, /** @type {Function} */ cb) => (handlers[n] ??= []).push(cb),
    off: (/** @type {string} */ n, /** @type {Function} */ cb) => (handlers[n] = (handlers[n] ?? []).filter((x) => x !== cb)),
    emit: (/** @type {string} */ n, /** @type {any[]} */ ...a) => (handlers[n] ?? []).forEach((cb) => cb(...a)),
  };
  return { ...base, proxy: () => ({ ...base }) };
}
