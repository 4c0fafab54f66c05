import { test } from "node:test";
import assert from "node:assert/strict";
import { callSummary, issuesText } from "../src/progress-compact.js";
import { memorySummary } from "../src/memory.js";
import { yAxis } from "../src/resources.js";

const counts = (/** @type {Record<string, number>} */ c) => ({ waiting: 0, queued: 0, processing: 0, memory: 0, erred: 0, cancelled: 0, released: 0, ...c });

test("an erred call's percentage is done / total, not finished / total", () => {
  const call = { id: 1, total: 200, submitted: 200, status: "erred", counts: counts({ released: 7, erred: 1, cancelled: 192 }) };
  const s = callSummary(call, 0);
  assert.equal(s.countText, "7 / 200");
  assert.equal(s.pctText, "3.5%");
  assert.equal(s.issuesText, "1 erred · 192 cancelled");
  assert.equal(s.finished, 200);
  const ok = callSummary({ ...call, status: "done", counts: counts({ released: 200 }) }, 0);
  assert.equal(ok.pctText, "100%");
  assert.equal(ok.issuesText, "");
  assert.equal(callSummary({ ...call, counts: counts({}) }, 0).pctText, "0%");
  assert.equal(callSummary({ ...call, total: null }, 0).pctText, "");
  assert.equal(issuesText(0, 3), "3 cancelled");
});

test("memory title counts live workers only, and says so when none is left", () => {
  const MiB = 1024 * 1024;
  const live = { id: 0, status: "busy", rss: 30 * MiB, managed: MiB };
  const gone = { id: 1, status: "exited", rss: 20 * MiB, managed: 0 };
  assert.equal(memorySummary([live], "running").text, "30.0 MiB RSS · 1.00 MiB managed");
  const mixed = memorySummary([live, gone], "running");
  assert.equal(mixed.rss, 30 * MiB);
  assert.match(mixed.text, /· 1 live$/);
  assert.equal(memorySummary([gone, { ...gone, id: 2, status: "died" }], "closed").text, "pool closed");
  assert.equal(memorySummary([gone], "running").text, "no live workers");
  assert.equal(memorySummary([], "starting").text, "");
});

test("CPU axis ends at a nice number of cores; other axes just above the data", () => {
  assert.deepEqual(yAxis(6, 100, false, true), { ymax: 100, values: [0, 50, 100] });
  assert.equal(yAxis(150, 100, false, true).ymax, 200);
  assert.equal(yAxis(350, 100, false, true).ymax, 400);
  assert.equal(yAxis(790, 100, false, true).ymax, 800);
  assert.ok(yAxis(790, 100, false, true).values.length <= 5);
  const MiB = 1024 * 1024;
  assert.deepEqual(yAxis(41.4 * MiB, MiB, true).values.map((v) => v / MiB), [0, 25, 50]);
  assert.equal(yAxis(48, 1).ymax, 50);
  for (const m of [0.3, 1, 7, 48, 99, 100, 101, 479, 2750, 123456]) {
    const a = yAxis(m, 0.1);
    assert.ok(a.ymax >= m && a.ymax <= 2 * Math.max(m, 0.1) + 1e-9 && a.values.length <= 5, `${m}: ${JSON.stringify(a)}`);
  }
});

test("control URLs: from the page's websocket and from a pop-out URL", async () => {
  const { poolApiUrl } = await import("../src/control.js");
  assert.equal(poolApiUrl("ws://h:8888/user/a/taskscope/api/pools/ab12/ws", "http://h:8888/"),
    "http://h:8888/user/a/taskscope/api/pools/ab12");
  assert.equal(poolApiUrl("/user/a/taskscope/pools/ab12", "https://hub.example/user/a/lab"),
    "https://hub.example/user/a/taskscope/api/pools/ab12");
});
