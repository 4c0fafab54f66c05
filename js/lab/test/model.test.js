// Unit tests of the sidebar's pure helpers: node --test test/
import assert from "node:assert/strict";
import { test } from "node:test";

import { describeOrigin, offersPane, paneLabel, PANES, poolProgress } from "../src/model.js";

test("pane names match the server's PANES, plus the full dashboard", () => {
  assert.deepEqual(PANES.map(([p]) => p),
    ["progress", "task-stream", "memory", "workers", "errors", "resources", "graph", "profile", ""]);
  assert.equal(paneLabel("task-stream"), "task stream");
  assert.equal(paneLabel(""), "dashboard");
  assert.equal(paneLabel(undefined), "dashboard");
});

test("the profile button only for a profiling pool; every other pane for every pool", () => {
  assert.equal(offersPane({ profile: true }, "profile"), true);
  assert.equal(offersPane({ profile: false }, "profile"), false);
  assert.equal(offersPane({}, "profile"), false);
  for (const [pane] of PANES.filter(([p]) => p !== "profile")) assert.equal(offersPane({}, pane), true);
});

test("origin: notebook path from the session list, else notebook/script with pid", () => {
  const paths = new Map([["k1", "work/analysis.ipynb"]]);
  assert.equal(describeOrigin({ origin: "notebook", kernel_id: "k1", pid: 7 }, paths).text,
    "notebook · analysis.ipynb");
  assert.equal(describeOrigin({ origin: "notebook", kernel_id: "k2", pid: 7 }, paths).text, "notebook · pid 7");
  assert.equal(describeOrigin({ origin: "script", kernel_id: null, pid: 9 }).text, "script · pid 9");
  const dask = describeOrigin({ origin: "dask", kernel_id: "k1", pid: 7, scheduler: "tcp://10.0.0.5:8786" }, paths);
  assert.equal(dask.text, "dask · 10.0.0.5:8786");
  assert.equal(dask.title, "Dask cluster at tcp://10.0.0.5:8786, watched from work/analysis.ipynb");
});

test("progress: running calls first, then everything the pool ran", () => {
  assert.deepEqual(poolProgress({ progress: { calls_running: 1, running_done: 5, running_total: 20 } }),
    { fraction: 0.25, text: "5 / 20" });
  assert.equal(poolProgress({ progress: { calls_running: 1, running_done: 5, running_total: null } }).fraction, null);
  assert.deepEqual(poolProgress({ progress: { calls_running: 0, submitted: 10, finished: 10, erred: 2 } }),
    { fraction: 1, text: "10 / 10 done · 2 erred" });
  assert.deepEqual(poolProgress({ progress: { submitted: 0 } }), { fraction: null, text: "no tasks yet" });
});

test("dataForSnapshot: a live snapshot replaces text/html, a final one the whole output", async () => {
  const { dataForSnapshot } = await import("../src/model.js");
  const live = { "application/vnd.jupyter.widget-view+json": { model_id: "m1" },
    "application/vnd.taskscope.view+json": { v: 1, model_id: "m1" }, "text/html": "<div>old</div>", "text/plain": "taskscope dashboard of pool-1" };
  const next = dataForSnapshot(live, { html: "<div>new</div>", final: false });
  assert.equal(next["text/html"], "<div>new</div>");
  assert.deepEqual(next["application/vnd.jupyter.widget-view+json"], { model_id: "m1" });
  assert.equal(dataForSnapshot(next, { html: "<div>new</div>" }), null, "unchanged: no write (the notebook stays clean)");
  const fin = dataForSnapshot(live, { html: "<div>final</div>", final: true });
  assert.deepEqual(Object.keys(fin).sort(), ["text/html", "text/plain"]);
  assert.equal(dataForSnapshot(live, { html: "" }), null);
  assert.equal(dataForSnapshot(live, null), null);
});
