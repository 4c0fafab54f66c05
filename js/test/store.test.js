import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Ring } from "../src/ring.js";
import { createStore, toFloat64, STREAM_WIDTH } from "../src/store.js";

const sync = (/** @type {() => void} */ cb) => cb();

/** n stream records with start = first+i (so records identify themselves) */
function recs(first, n) {
  const a = new Float64Array(n * STREAM_WIDTH);
  for (let i = 0; i < n; i++) a.set([first + i, first + i + 0.5, i % 4, 0, 1, 0], i * STREAM_WIDTH);
  return a;
}

test("ring appends, wraps and keeps the newest", () => {
  const r = new Ring(5, 2);
  r.push(new Float64Array([1, 1, 2, 2, 3, 3]));
  assert.equal(r.length, 3);
  assert.equal(r.end, 3);
  r.push(new Float64Array([4, 4, 5, 5, 6, 6, 7, 7]));
  assert.equal(r.length, 5);
  assert.equal(r.first, 2);
  assert.equal(r.end, 7);
  assert.deepEqual([...r.toArray()].filter((_, i) => i % 2 === 0), [3, 4, 5, 6, 7]);
  assert.equal(r.spans().length, 2);
  assert.equal(r.get(0, 0), 3);
  assert.equal(r.get(4, 1), 7);
});

test("ring push larger than capacity keeps the tail and counts skipped ones", () => {
  const r = new Ring(3, 1);
  r.push(new Float64Array([1, 2]));
  r.push(new Float64Array([3, 4, 5, 6, 7]));
  assert.deepEqual([...r.toArray()], [5, 6, 7]);
  assert.equal(r.end, 7);
  assert.equal(r.first, 4);
});

test("ring clone is independent", () => {
  const r = new Ring(4, 1);
  r.push(new Float64Array([1, 2, 3]));
  const c = r.clone();
  r.push(new Float64Array([4, 5]));
  assert.deepEqual([...c.toArray()], [1, 2, 3]);
  assert.deepEqual([...r.toArray()], [2, 3, 4, 5]);
});

test("toFloat64 accepts ArrayBuffer, DataView (aligned or not) and typed arrays", () => {
  const f = new Float64Array([1.5, 2.5, 3.5]);
  assert.deepEqual([...toFloat64(f.buffer)], [1.5, 2.5, 3.5]);
  assert.deepEqual([...toFloat64(new DataView(f.buffer))], [1.5, 2.5, 3.5]);
  assert.deepEqual([...toFloat64(new DataView(f.buffer, 8, 16))], [2.5, 3.5]);
  const raw = new Uint8Array(8 * 2 + 3);
  raw.set(new Uint8Array(new Float64Array([7, 8]).buffer), 3);
  assert.deepEqual([...toFloat64(new DataView(raw.buffer, 3, 16))], [7, 8]);
  assert.deepEqual([...toFloat64(new Uint8Array(f.buffer))], [1.5, 2.5, 3.5]);
  assert.equal(toFloat64(null).length, 0);
});

test("stream deltas append in order; reset replaces", () => {
  const s = createStore({ schedule: sync });
  assert.ok(s.applyMessage({ type: "stream", reset: true, first: 0 }, [recs(0, 10).buffer]));
  assert.ok(s.applyMessage({ type: "stream", reset: false, first: 10 }, [new DataView(recs(10, 5).buffer)]));
  assert.equal(s.stream.length, 15);
  assert.equal(s.stream.end, 15);
  assert.equal(s.stream.get(14, 0), 14);
  s.applyMessage({ type: "stream", reset: true, first: 500 }, [recs(500, 3)]);
  assert.equal(s.stream.length, 3);
  assert.equal(s.stream.first, 500);
  assert.equal(s.stream.get(0, 0), 500);
  assert.equal(s.gapsDetected, 0);
});

test("overlapping resend keeps only the new records", () => {
  const s = createStore({ schedule: sync });
  s.applyMessage({ type: "stream", reset: true, first: 0 }, [recs(0, 10)]);
  s.applyMessage({ type: "stream", first: 8 }, [recs(8, 5)]);
  assert.equal(s.stream.length, 13);
  assert.deepEqual([10, 11, 12].map((i) => s.stream.get(i, 0)), [10, 11, 12]);
  s.applyMessage({ type: "stream", first: 2 }, [recs(2, 3)]); // all old
  assert.equal(s.stream.length, 13);
});

test("a gap is reported once via onGap and the new records are still kept", () => {
  /** @type {any[]} */
  const gaps = [];
  const s = createStore({ schedule: sync, onGap: (g) => gaps.push(g) });
  s.applyMessage({ type: "stream", reset: true, first: 0 }, [recs(0, 10)]);
  s.applyMessage({ type: "stream", first: 15 }, [recs(15, 5)]);
  assert.deepEqual(gaps, [{ kind: "stream", expected: 10, got: 15 }]);
  assert.equal(s.stream.length, 15);
  assert.equal(s.stream.end, 20);
  // contiguous after the gap: no new report
  s.applyMessage({ type: "stream", first: 20 }, [recs(20, 1)]);
  assert.equal(gaps.length, 1);
  // another gap soon after: counted but not re-requested (rate limit)
  s.applyMessage({ type: "stream", first: 30 }, [recs(30, 1)]);
  assert.equal(gaps.length, 1);
  assert.equal(s.gapsDetected, 2);
  // the reset answers the request; a later gap is reported again
  s.applyMessage({ type: "stream", reset: true, first: 0 }, [recs(0, 31)]);
  s.applyMessage({ type: "stream", first: 40 }, [recs(40, 1)]);
  assert.equal(gaps.length, 2);
});

test("a first delta into an empty store with first > 0 is a gap", () => {
  /** @type {any[]} */
  const gaps = [];
  const s = createStore({ schedule: sync, onGap: (g) => gaps.push(g) });
  s.applyMessage({ type: "resources", first: 100 }, [new Float64Array(10)]);
  assert.equal(gaps.length, 1);
  assert.equal(gaps[0].kind, "resources");
  assert.equal(s.resources.length, 2);
  assert.equal(s.resources.first, 100);
});

test("resources ring has 5-float records and its own capacity", () => {
  const s = createStore({ schedule: sync, resourceCapacity: 4 });
  const a = new Float64Array(6 * 5).map((_, i) => i);
  s.applyMessage({ type: "resources", reset: true, first: 0 }, [a]);
  assert.equal(s.resources.length, 4);
  assert.equal(s.resources.first, 2);
  assert.equal(s.resources.get(0, 0), 10);
});

test("notifications are coalesced into one per scheduled frame", () => {
  /** @type {Array<() => void>} */
  const frames = [];
  const s = createStore({ schedule: (cb) => frames.push(cb) });
  let n = 0;
  s.subscribe(() => n++);
  s.setState({ seq: 1 });
  s.applyMessage({ type: "stream", reset: true, first: 0 }, [recs(0, 3)]);
  s.setState({ seq: 2 });
  assert.equal(frames.length, 1);
  assert.equal(n, 0);
  frames.shift()?.();
  assert.equal(n, 1);
  s.setState({ seq: 3 });
  assert.equal(frames.length, 1);
});

test("frozen: panes see a snapshot while data keeps accumulating", () => {
  const s = createStore({ schedule: sync });
  let n = 0;
  s.subscribe(() => n++);
  s.setState({ seq: 1 });
  s.applyMessage({ type: "stream", reset: true, first: 0 }, [recs(0, 5)]);
  n = 0;
  s.frozen = true;
  assert.equal(n, 1, "the freeze itself is announced");
  s.setState({ seq: 2 });
  s.applyMessage({ type: "stream", first: 5 }, [recs(5, 5)]);
  assert.equal(n, 1, "no notifications while frozen");
  assert.equal(s.view().state.seq, 1);
  assert.equal(s.view().stream.length, 5);
  assert.equal(s.stream.length, 10);
  s.frozen = false;
  assert.equal(n, 2);
  assert.equal(s.view().state.seq, 2);
  assert.equal(s.view().stream.length, 10);
});

test("state messages and unknown messages", () => {
  const s = createStore({ schedule: sync });
  assert.equal(s.applyMessage({ type: "state", state: { seq: 9 } }), true);
  assert.equal(s.state.seq, 9);
  assert.equal(s.applyMessage({ type: "something-else" }), false);
  assert.equal(s.applyMessage(null), false);
});

test("fixture state matches the documented shape", () => {
  const st = JSON.parse(readFileSync(new URL("./fixtures/state.json", import.meta.url), "utf8"));
  assert.deepEqual(st.v, [1, 0]);
  assert.equal(st.calls.length, 3);
  assert.equal(st.functions.length, 2);
  assert.equal(st.workers.length, 4);
  assert.equal(st.errors.length, 2);
  for (const c of st.calls) {
    const sum = Object.values(c.counts).reduce((a, b) => /** @type {number} */ (a) + /** @type {number} */ (b), 0);
    assert.equal(sum, c.submitted, `call ${c.id} counts sum to submitted`);
  }
  for (const e of st.errors) assert.match(e.traceback, /^Traceback/);
});
