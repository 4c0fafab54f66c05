import { test } from "node:test";
import assert from "node:assert/strict";
import widget, { storeFor } from "../src/widget.js";
import { fakeModel } from "./fake-model.js";

/** @param {number} first @param {number} n */
function recs(first, n) {
  const a = new Float64Array(n * 6);
  for (let i = 0; i < n; i++) a.set([first + i, first + i + 1, 0, 0, 1, 0], i * 6);
  return a;
}

test("initialize wires state, custom messages (DataView buffers) and frozen to one store", () => {
  const m = fakeModel({ state: { seq: 1 }, frozen: false, panes: [], call: null, popout_url: "" });
  const dispose = widget.initialize({ model: m });
  assert.deepEqual(m.sent, [{ type: "request_full" }], "asks for the rings on start");
  const other = m.proxy(); // render() gets a different proxy of the same model
  const store = storeFor(other);
  assert.ok(store, "render's proxy finds initialize's store");
  m.emit("msg:custom", { type: "stream", reset: true, first: 0 }, [new DataView(recs(0, 3).buffer)]);
  m.emit("msg:custom", { type: "resources", reset: true, first: 0 }, [new Float64Array(10).buffer]);
  assert.equal(store?.stream.length, 3);
  assert.equal(store?.resources.length, 2);
  m.set("state", { seq: 2 });
  assert.equal(store?.state.seq, 2);
  assert.equal(storeFor(m.proxy()), store, "still found after the state object changed");
  // a gap makes the widget ask the kernel for a full resync
  m.emit("msg:custom", { type: "stream", first: 10 }, [recs(10, 1).buffer]);
  assert.deepEqual(m.sent.at(-1), { type: "request_full" });
  m.set("frozen", true);
  assert.equal(store?.frozen, true);
  /** @type {any} */ (dispose)();
  assert.equal((m.handlers["msg:custom"] ?? []).length, 0, "handlers removed on dispose");
});
