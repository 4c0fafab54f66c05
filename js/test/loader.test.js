import { test } from "node:test";
import assert from "node:assert/strict";
import loader from "../src/loader.js";
import carrier from "../src/carrier.js";
import { registry, REGISTRY_KEY } from "../src/registry.js";
import { mergeState } from "../src/widget-host.js";

/** @param {Record<string, any>} traits */
const model = (traits) => ({
  get: (/** @type {string} */ k) => traits[k],
  set() {},
  save_changes() {},
  send() {},
  on() {},
  off() {},
});

test("the loader waits for the carrier's bundle and delegates initialize and render", async () => {
  delete (/** @type {any} */ (globalThis))[REGISTRY_KEY];
  /** @type {string[]} */
  const calls = [];
  const fake = {
    initialize() {
      calls.push("init");
      return () => calls.push("dispose");
    },
    render() {
      calls.push("render");
    },
  };
  const m = model({ _ts_bundle: "k1", _ts_view: "progress" });
  const w = loader();
  const init = /** @type {Promise<any>} */ (w.initialize({ model: m }));
  // The carrier comes a little later (its comm_open is handled in parallel).
  setTimeout(() => carrier.initialize({ model: model({ _ts_bundle: "k1", _ts_css: "" }) }), 20);
  const dispose = await init;
  assert.deepEqual(calls, [], "the carrier's own modules were registered, not ours");
  assert.ok(registry().modules.k1.progress && registry().modules.k1.dashboard);
  // Another bundle (another kernel, another build) never uses this one's modules.
  registry().modules.k2 = { progress: fake };
  const m2 = model({ _ts_bundle: "k2", _ts_view: "progress" });
  const w2 = loader();
  const dispose2 = await w2.initialize({ model: m2 });
  await w2.render({ model: m2, el: /** @type {any} */ ({}) });
  dispose2();
  assert.deepEqual(calls, ["init", "render", "dispose"]);
  assert.equal(typeof dispose, "function");
});

test("mergeState puts finished calls back into state.calls, in id order", () => {
  const s = mergeState({ now: 1, calls: [{ id: 5, status: "running" }] },
    [{ id: 2, status: "done" }, { id: 4, status: "done" }], [{ id: "e" }]);
  assert.deepEqual(s.calls.map((/** @type {any} */ c) => c.id), [2, 4, 5]);
  assert.equal(s.now, 1);
  assert.deepEqual(s.errors, [{ id: "e" }]);
  assert.deepEqual(mergeState({ calls: [{ id: 1 }] }, [], null).calls, [{ id: 1 }]);
  assert.deepEqual(mergeState(null, undefined, undefined), { errors: [] });
});
