/**
 * Layered layout of the task graph (drawing math only, no DOM): tested in
 * node (js/test/graph-layout.test.js) and used by the graph pane (graph.js).
 *
 *   edges (input -> dependent) ──▶ layers: longest path from the inputs
 *                                   (Kahn's order; a cycle, possible between
 *                                   task groups, is broken where it is met)
 *                              ──▶ order in each layer: index order, then two
 *                                   barycentre sweeps (down by inputs, up by
 *                                   dependents): a cheap crossing reduction
 *                              ──▶ x: position in the layer, centred; y: layer
 *
 * Everything is typed arrays and O(V + E log V): 20,000 nodes lay out in a
 * few tens of milliseconds, once per graph update, never per frame.
 */

/**
 * @typedef {object} Layout
 * @property {Int32Array} layer  layer of each node (0 = no inputs)
 * @property {Float64Array} x    horizontal position (node units, widest layer from 0)
 * @property {number} layers     number of layers
 * @property {number} width      nodes in the widest layer
 * @property {Int32Array[]} rows node indices of each layer, ordered by x
 */

/**
 * Longest-path layers. `edges` is a flat list [from, to, from, to, ...].
 * @param {number} n @param {ArrayLike<number>} edges
 * @returns {Int32Array}
 */
export function longestPathLayers(n, edges) {
  const layer = new Int32Array(n);
  const indeg = new Int32Array(n);
  const m = Math.floor(edges.length / 2);
  // successors in CSR form
  const start = new Int32Array(n + 1);
  for (let k = 0; k < m; k++) {
    const a = edges[2 * k], b = edges[2 * k + 1];
    if (a === b || a < 0 || b < 0 || a >= n || b >= n) continue;
    start[a + 1]++;
    indeg[b]++;
  }
  for (let i = 0; i < n; i++) start[i + 1] += start[i];
  const succ = new Int32Array(start[n]);
  const fill = start.slice(0, n);
  for (let k = 0; k < m; k++) {
    const a = edges[2 * k], b = edges[2 * k + 1];
    if (a === b || a < 0 || b < 0 || a >= n || b >= n) continue;
    succ[fill[a]++] = b;
  }
  const queue = new Int32Array(n);
  let head = 0, tail = 0;
  const done = new Uint8Array(n);
  const visit = (/** @type {number} */ i) => {
    done[i] = 1;
    for (let s = start[i]; s < start[i + 1]; s++) {
      const j = succ[s];
      if (done[j]) continue; // (a broken cycle's back edge)
      if (layer[i] + 1 > layer[j]) layer[j] = layer[i] + 1;
      if (--indeg[j] === 0) queue[tail++] = j;
    }
  };
  for (let i = 0; i < n; i++) if (indeg[i] === 0) queue[tail++] = i;
  for (let next = 0; ; ) {
    while (head < tail) visit(queue[head++]);
    // Nodes left are on cycles: take the first one as if its inputs were done.
    while (next < n && done[next]) next++;
    if (next >= n) break;
    indeg[next] = 0;
    queue[tail++] = next;
  }
  return layer;
}

/**
 * Order the nodes of each layer to reduce crossings (barycentre heuristic).
 * @param {number} n @param {ArrayLike<number>} edges @param {Int32Array} layer
 * @returns {Int32Array[]} rows
 */
export function orderLayers(n, edges, layer) {
  let layers = 0;
  for (let i = 0; i < n; i++) if (layer[i] + 1 > layers) layers = layer[i] + 1;
  const counts = new Int32Array(layers);
  for (let i = 0; i < n; i++) counts[layer[i]]++;
  /** @type {Int32Array[]} */
  const rows = [];
  for (let l = 0; l < layers; l++) rows.push(new Int32Array(counts[l]));
  const fillAt = new Int32Array(layers);
  for (let i = 0; i < n; i++) rows[layer[i]][fillAt[layer[i]]++] = i;
  const pos = new Float64Array(n);
  const setPos = () => {
    for (const row of rows) for (let k = 0; k < row.length; k++) pos[row[k]] = row.length > 1 ? k / (row.length - 1) : 0.5;
  };
  setPos();
  const m = Math.floor(edges.length / 2);
  const sum = new Float64Array(n);
  const cnt = new Int32Array(n);
  /** @param {boolean} down order by inputs (true) or by dependents */
  const sweep = (down) => {
    sum.fill(0);
    cnt.fill(0);
    for (let k = 0; k < m; k++) {
      const a = edges[2 * k], b = edges[2 * k + 1];
      if (a < 0 || b < 0 || a >= n || b >= n || layer[a] === layer[b]) continue;
      const [me, other] = down ? [b, a] : [a, b];
      sum[me] += pos[other];
      cnt[me]++;
    }
    for (const row of rows) {
      const keyed = Array.from(row, (i) => [cnt[i] ? sum[i] / cnt[i] : pos[i], i]);
      keyed.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
      for (let k = 0; k < row.length; k++) row[k] = keyed[k][1];
    }
    setPos();
  };
  sweep(true);
  sweep(false);
  sweep(true);
  return rows;
}

/**
 * The whole layout.
 * @param {number} n @param {ArrayLike<number>} edges
 * @returns {Layout}
 */
export function layoutGraph(n, edges) {
  const layer = longestPathLayers(n, edges);
  const rows = orderLayers(n, edges, layer);
  let width = 0;
  for (const row of rows) if (row.length > width) width = row.length;
  const x = new Float64Array(n);
  for (const row of rows) {
    const off = (width - row.length) / 2; // each layer centred under the widest
    for (let k = 0; k < row.length; k++) x[row[k]] = off + k;
  }
  return { layer, x, layers: rows.length, width, rows };
}

/**
 * The node at layout point (lx, ly) (node units; a node spans x..x+1 of its
 * layer's row ly..ly+1 scaled by `fill`), or -1.
 * @param {Layout} lay @param {number} lx @param {number} ly @param {number} [fill] share of a slot a node covers
 */
export function nodeAt(lay, lx, ly, fill = 1) {
  const l = Math.floor(ly);
  if (l < 0 || l >= lay.layers || ly - l > fill) return -1;
  const row = lay.rows[l];
  let lo = 0, hi = row.length - 1;
  while (lo <= hi) { // binary search on x (rows are ordered by x)
    const mid = (lo + hi) >> 1;
    const x0 = lay.x[row[mid]];
    if (lx < x0) hi = mid - 1;
    else if (lx > x0 + fill) lo = mid + 1;
    else return row[mid];
  }
  return -1;
}
