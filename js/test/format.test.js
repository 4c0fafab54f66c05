import { test } from "node:test";
import assert from "node:assert/strict";
import * as f from "../src/format.js";

const T = f.THIN;

test("count uses thin separators", () => {
  assert.equal(f.count(0), "0");
  assert.equal(f.count(999), "999");
  assert.equal(f.count(1000), `1${T}000`);
  assert.equal(f.count(1234567), `1${T}234${T}567`);
  assert.equal(f.count(-4200), `−4${T}200`);
  assert.equal(f.count(null), "—");
  assert.equal(f.count(NaN), "—");
});

test("bytes in binary units", () => {
  assert.equal(f.bytes(0), "0 B");
  assert.equal(f.bytes(1023), "1023 B");
  assert.equal(f.bytes(1024), "1.00 KiB");
  assert.equal(f.bytes(52428800), "50.0 MiB");
  assert.equal(f.bytes(512 * 1024 * 1024), "512 MiB");
  assert.equal(f.bytes(1.5 * 1024 ** 3), "1.50 GiB");
  assert.equal(f.bytes(undefined), "—");
});

test("durations", () => {
  assert.equal(f.duration(0), "0 s");
  assert.equal(f.duration(3.2e-4), "320 µs");
  assert.equal(f.duration(0.0123), "12.3 ms");
  assert.equal(f.duration(0.5), "500 ms");
  assert.equal(f.duration(4.213), "4.21 s");
  assert.equal(f.duration(42.1), "42.1 s");
  assert.equal(f.duration(185), "3m 05s");
  assert.equal(f.duration(3725), "1h 02m");
  assert.equal(f.duration(90000), "1d 01h");
  assert.equal(f.duration(-2), "−2.00 s");
  assert.equal(f.duration(null), "—");
});

test("clock, rate, eta, percent, cpu", () => {
  assert.equal(f.clock(65.3), "01:05");
  assert.equal(f.clock(3725), "1:02:05");
  assert.equal(f.rate(812.5), "813/s");
  assert.equal(f.rate(12345), "12.3k/s");
  assert.equal(f.rate(2.5e6), "2.50M/s");
  assert.equal(f.rate(0.25), "0.25/s");
  assert.equal(f.rate(null), "—");
  assert.equal(f.eta(null), "—");
  assert.equal(f.eta(0.02), "< 1 s");
  assert.equal(f.eta(7.04), "7 s");
  assert.equal(f.eta(185), "3m 05s");
  assert.equal(f.percent(0.973), "97.3%");
  assert.equal(f.percent(1), "100%");
  assert.equal(f.percent(0.9999), "100%");
  assert.equal(f.percent(0.5, 0), "50%");
  assert.equal(f.cpu(98.54), "98.5%");
  assert.equal(f.cpu(250), "250%");
});

test("relative times and tick labels", () => {
  assert.equal(f.relTime(1012.3, 1000), "+12.3 s");
  assert.equal(f.relTime(995, 1000), "−5.00 s");
  assert.equal(f.tickLabel(12, 5), "12s");
  assert.equal(f.tickLabel(0.25, 0.05), "0.25s");
  assert.equal(f.tickLabel(0.5, 0.1), "0.5s");
  assert.equal(f.tickLabel(125, 60), "02:05");
  assert.equal(f.tickLabel(-30, 10), "−30s");
  assert.equal(f.tickLabel(0.0004, 0.0001), "0.4ms");
  assert.equal(f.plural(1, "item"), "1 item");
  assert.equal(f.plural(4, "item"), "4 items");
});

test("tests/unit/fixtures/format-cases.json is current (the Python port is checked against it)", async () => {
  const { readFileSync } = await import("node:fs");
  const { cases, OUT } = await import("../dev/make-format-cases.mjs");
  const saved = JSON.parse(readFileSync(OUT, "utf8"));
  assert.deepEqual(saved, JSON.parse(JSON.stringify(cases())), "stale: run node js/dev/make-format-cases.mjs");
});
