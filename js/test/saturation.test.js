import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Ring } from "../src/ring.js";
import { binSaturation, saturationAxis } from "../src/saturation.js";
import { functionRows } from "../src/memory-functions.js";
import { transferText } from "../src/task-stream.js";

const CASE = JSON.parse(readFileSync(new URL("../../tests/unit/fixtures/saturation-case.json", import.meta.url), "utf8"));

test("saturation bins the stream as the snapshot does (shared golden case)", () => {
  const ring = new Ring(16, 6);
  ring.push(Float64Array.from(CASE.records.flat()));
  const s = binSaturation(ring, CASE.workers, CASE.t0, CASE.t1, CASE.bins, CASE.now);
  assert.deepEqual(s.ids, CASE.expect_ids);
  assert.deepEqual(s.series.map((x) => [...x].map((v) => Math.round(v * 1e9) / 1e9)), CASE.expect);
  assert.equal(s.slots, CASE.expect_slots);
  assert.equal(s.peak, 1.5);
});

test("a Dask worker's lanes are its threads", () => {
  const ring = new Ring(8, 6);
  ring.push(Float64Array.from([0, 2, 10, 0, 1, 0, 0, 2, 11, 0, 1, 0, 0, 1, 0, 0, 1, 0]));
  const s = binSaturation(ring, [{ id: 0, lanes: [10, 11], nthreads: 2 }], 0, 2, 2, 2);
  assert.deepEqual([...s.series[0]], [2, 2]); // both threads busy; lane 0 is nobody's
  assert.equal(s.slots, 2);
});

test("saturation axis: whole tasks up to every slot", () => {
  assert.deepEqual(saturationAxis(0.3, 2), { ymax: 2, values: [0, 1, 2] });
  assert.deepEqual(saturationAxis(9.5, 8), { ymax: 10, values: [0, 3, 6, 9, 10] });
});

test("memory by function: largest first, the rest summed", () => {
  const rows = Array.from({ length: 14 }, (_, i) => ({ key: `m.f${i}`, name: `f${i}`, bytes: (i + 1) * 10, results: 1 }));
  const r = functionRows(rows);
  assert.equal(r.shown.length, 12);
  assert.equal(r.shown[0].name, "f13");
  assert.deepEqual(r.rest, { n: 2, bytes: 30 });
  assert.equal(r.total, 1050);
});

test("a transfer's tooltip line tells bytes and speed", () => {
  assert.equal(transferText(2 * 1024 * 1024, 0.004), "2.00 MiB fetched from another worker (500 MiB/s)");
});
