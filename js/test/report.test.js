// The offline report's ring codec (js/src/report.js) against the Python encoder's format
// (kernel_ext/reports.py: columns of float64, each byte-shuffled, deflated, base64).
import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { decodeRing, streamExtent, unshuffle } from "../src/report.js";
import { Ring } from "../src/ring.js";

/** What reports._pack_ring does, in JS. @param {Float64Array} recs @param {number} width */
function pack(recs, width) {
  const n = recs.length / width;
  const out = new Uint8Array(n * width * 8);
  const col = new Float64Array(n);
  const bytes = new Uint8Array(col.buffer);
  for (let f = 0; f < width; f++) {
    for (let i = 0; i < n; i++) col[i] = recs[i * width + f];
    for (let b = 0; b < 8; b++) for (let i = 0; i < n; i++) out[(f * 8 + b) * n + i] = bytes[i * 8 + b];
  }
  return { n, width, first: 0, data: deflateSync(out).toString("base64") };
}

test("decodeRing gives back the records bit for bit", async () => {
  const recs = new Float64Array([12345.678901234, 12345.7, 0, 3, 10, 0,
    12345.65, 12345.9, 1, 1, 1, 1, -0, Number.MIN_VALUE, 2, 0, 5e300, 2]);
  const got = await decodeRing(pack(recs, 6));
  assert.deepEqual([...got], [...recs]);
});

test("an empty ring decodes to nothing", async () => {
  assert.equal((await decodeRing({ n: 0, width: 6, data: "" })).length, 0);
});

test("unshuffle puts each byte plane back", () => {
  const recs = new Float64Array([1.5, -2.25, 3e-9, 4]);
  const shuffled = new Uint8Array(32);
  const src = new Uint8Array(new Float64Array([1.5, 3e-9, -2.25, 4]).buffer); // columns
  for (let f = 0; f < 2; f++) for (let b = 0; b < 8; b++) for (let i = 0; i < 2; i++)
    shuffled[(f * 8 + b) * 2 + i] = src[(f * 2 + i) * 8 + b];
  assert.deepEqual([...unshuffle(shuffled, 2, 2)], [...recs]);
});

test("streamExtent spans every record, padded", () => {
  const ring = new Ring(10, 6);
  ring.push(new Float64Array([5, 6, 0, 0, 1, 0, 1, 2, 1, 0, 1, 0, 8, 9, 0, 0, 1, 0]));
  const { t0, t1 } = /** @type {{t0: number, t1: number}} */ (streamExtent(ring));
  assert.ok(t0 < 1 && t0 > 0.9 && t1 > 9 && t1 < 9.1, `${t0} ${t1}`);
  assert.equal(streamExtent(new Ring(4, 6)), null);
});
