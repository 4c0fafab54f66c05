import { test } from "node:test";
import assert from "node:assert/strict";
import { FinishedCalls, attachStore, mergeState } from "../src/widget-host.js";
import { fakeModel } from "./fake-model.js";


test("a bar's call_info fills its row's fixed fields; the row's own fields win", () => {
  const s = mergeState({ calls: [{ id: 3, counts: { released: 5 }, status: "running" }] }, [], [],
    { id: 3, fn: "sq", module: "__main__", status: "stale" });
  assert.deepEqual(s.calls, [{ id: 3, fn: "sq", module: "__main__", counts: { released: 5 }, status: "running" }]);
  // Info of another call is not applied.
  const t = mergeState({ calls: [{ id: 4 }] }, [], [], { id: 3, fn: "sq" });
  assert.deepEqual(t.calls, [{ id: 4 }]);
});

test("finished calls arrive once each, are replaced on reset and dropped below `oldest`", () => {
  const f = new FinishedCalls();
  assert.equal(f.apply({ type: "stream" }), false);
  assert.ok(f.apply({ type: "calls", reset: false, oldest: 1, calls: [{ id: 1, status: "done" }] }));
  f.apply({ type: "calls", reset: false, oldest: 1, calls: [{ id: 2, status: "erred" }] });
  assert.deepEqual(f.list().map((c) => c.id), [1, 2]);
  f.apply({ type: "calls", reset: false, oldest: 2, calls: [{ id: 3, status: "done" }] });
  assert.deepEqual(f.list().map((c) => c.id), [2, 3]);
  f.apply({ type: "calls", reset: true, oldest: 2, calls: [{ id: 3, status: "done", x: 1 }] });
  assert.deepEqual(f.list(), [{ id: 3, status: "done", x: 1 }]);
});

test("the store merges traits and calls messages into one State", () => {
  const model = fakeModel({ state: { now: 1, calls: [{ id: 2, status: "running" }] }, errors: [] });
  const scheduled = /** @type {Function[]} */ ([]);
  const { store, dispose } = attachStore(model, { schedule: (/** @type {Function} */ fn) => scheduled.push(fn) });
  model.emit("msg:custom", { type: "calls", reset: false, oldest: 1, calls: [{ id: 1, status: "done" }] });
  assert.deepEqual(store.state.calls.map((/** @type {any} */ c) => c.id), [1, 2]);
  // The running call finishes: its final row first (message), then `state` without it.
  model.emit("msg:custom", { type: "calls", reset: false, oldest: 1, calls: [{ id: 2, status: "done" }] });
  model.set("state", { now: 2, calls: [] });
  assert.deepEqual(store.state.calls.map((/** @type {any} */ c) => [c.id, c.status]), [[1, "done"], [2, "done"]]);
  assert.equal(store.state.now, 2);
  // Ring deltas still go to the store's rings.
  model.emit("msg:custom", { type: "stream", reset: true, first: 0 }, [new Float64Array([1, 2, 0, 0, 1, 0]).buffer]);
  assert.equal(store.stream.length, 1);
  dispose();
  model.emit("msg:custom", { type: "calls", reset: true, oldest: null, calls: [] });
  assert.equal(store.state.calls.length, 2, "a disposed host no longer listens");
});
