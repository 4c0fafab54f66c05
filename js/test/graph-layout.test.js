import { test } from "node:test";
import assert from "node:assert/strict";
import { layoutGraph, longestPathLayers, nodeAt, orderLayers } from "../src/graph-layout.js";
import { countsText, graphModel } from "../src/graph.js";

/** the number of edge crossings between consecutive layers @param {any} lay @param {number[]} edges */
function crossings(lay, edges) {
  let c = 0;
  for (let i = 0; i < edges.length; i += 2) {
    for (let j = i + 2; j < edges.length; j += 2) {
      const [a, b, p, q] = [edges[i], edges[i + 1], edges[j], edges[j + 1]];
      if (lay.layer[a] !== lay.layer[p] || lay.layer[b] !== lay.layer[q]) continue;
      if ((lay.x[a] - lay.x[p]) * (lay.x[b] - lay.x[q]) < 0) c++;
    }
  }
  return c;
}

test("layers are the longest path from the inputs", () => {
  // diamond 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3, plus a shortcut 0 -> 3 and a chain 3 -> 4
  const layer = longestPathLayers(5, [0, 1, 0, 2, 1, 3, 2, 3, 0, 3, 3, 4]);
  assert.deepEqual([...layer], [0, 1, 1, 2, 3]);
});

test("cycles (possible between task groups) and self edges are broken, not looped on", () => {
  const layer = longestPathLayers(3, [0, 1, 1, 2, 2, 1, 2, 2]);
  assert.equal(layer.length, 3);
  assert.ok([...layer].every((l) => l >= 0 && l < 3));
  assert.equal(layer[0], 0);
});

test("the barycentre sweeps remove the crossings of a crossed bipartite graph", () => {
  // inputs 0,1,2 feed dependents listed in reverse: 3 <- 2, 4 <- 1, 5 <- 0
  const edges = [2, 3, 1, 4, 0, 5];
  const lay = layoutGraph(6, edges);
  assert.equal(crossings(lay, edges), 0);
  assert.equal(lay.layers, 2);
  assert.equal(lay.width, 3);
});

test("rows are ordered by x and nodeAt finds each node, and nothing between", () => {
  const edges = [];
  for (let i = 1; i < 50; i++) edges.push(Math.floor((i - 1) / 2), i); // a binary tree
  const lay = layoutGraph(50, edges);
  for (const row of lay.rows) for (let k = 1; k < row.length; k++) assert.ok(lay.x[row[k]] > lay.x[row[k - 1]]);
  for (let i = 0; i < 50; i++) assert.equal(nodeAt(lay, lay.x[i] + 0.4, lay.layer[i] + 0.3, 0.8), i);
  assert.equal(nodeAt(lay, lay.x[0] + 0.4, lay.layer[0] + 0.95, 0.8), -1);
  assert.equal(nodeAt(lay, -5, 0, 0.8), -1);
  assert.deepEqual(orderLayers(0, [], new Int32Array(0)), []);
});

test("20,000 nodes lay out in well under a second", () => {
  const n = 20_000, edges = [];
  for (let i = 10_000; i < n; i++) edges.push((i - 10_000) * 2 % 10_000, i, ((i - 10_000) * 2 + 1) % 10_000, i);
  const t0 = performance.now();
  const lay = layoutGraph(n, edges);
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(lay.layers, 2);
});

test("the model of a State's graph: tasks as columns, groups with their edge counts", () => {
  const groups = [{ call: 1, fn: "inc", color: 0, counts: { memory: 2, erred: 1 }, submitted: 3 },
    { call: 2, fn: "add", color: 1, counts: { waiting: 1 }, submitted: 1 }];
  const t = graphModel({ mode: "tasks", groups, group_edges: [[1, 2, 2]],
    nodes: { id: [5, 6, 7], call: [1, 1, 2], state: [3, 4, 0], worker: [0, 1, null], duration: [0.1, 0.2, null], edges: [0, 2, 1, 2], details: {} } });
  assert.equal(t?.n, 3);
  assert.equal(t?.label(2), "add");
  assert.deepEqual([...(t?.state ?? [])], [3, 4, 0]);
  const g = graphModel({ mode: "groups", groups, group_edges: [[1, 2, 2], [2, 2, 5], [9, 1, 1]] });
  assert.deepEqual(g?.edges, [0, 1, 1, 1]);
  assert.deepEqual(g?.counts, [2, 5]);
  assert.equal(countsText({ waiting: 1, memory: 2000, erred: 0 }), "1 waiting · 2\u202f000 memory");
  assert.equal(graphModel(null), null);
});
