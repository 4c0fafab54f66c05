/**
 * The profile pane's arithmetic (no DOM): picking and merging the State's trees, the
 * flame graph's layout and the hottest frames. A tree node of `state.profile` is
 * `[name, file index, line, count, children]` (kernel_ext/state_profile.py); counts are
 * inclusive (samples in which the frame was on the stack).
 */

/**
 * @typedef {[string, number, number, number, any[]]} WireNode
 * @typedef {{name: string, file: number, line: number, count: number, children: Map<string, Tree>}} Tree
 * @typedef {{x: number, w: number, depth: number, node: Tree, path: string}} Box
 */

/** @param {any[]} n @returns {string} */
const keyOf = (n) => `${n[0]}\u0000${n[1]}\u0000${n[2]}`;

/** @returns {Tree} */
const empty = (name = "all", file = 0, line = 0) => ({ name, file, line, count: 0, children: new Map() });

/**
 * Add a wire tree into `into` (the browser's mirror of pool/profiler.py's merge_wire).
 * @param {Tree} into @param {any} n
 */
export function mergeInto(into, n) {
  if (!Array.isArray(n) || n.length !== 5) return;
  into.count += Number(n[3]) || 0;
  for (const c of n[4] ?? []) {
    if (!Array.isArray(c) || c.length !== 5) continue;
    const k = keyOf(c);
    let child = into.children.get(k);
    if (!child) into.children.set(k, (child = empty(String(c[0]), c[1], c[2])));
    mergeInto(child, c);
  }
}

/**
 * The choices of the pane's picker: every call, each function with several calls, and all.
 * @param {any} profile state.profile
 * @returns {Array<{id: string, label: string, calls: number[]}>}
 */
export function choices(profile) {
  const calls = profile?.calls ?? [];
  /** @type {Map<string, {fn: string, calls: number[]}>} */
  const byFn = new Map();
  for (const c of calls) {
    const k = `${c.module}.${c.fn}`;
    if (!byFn.has(k)) byFn.set(k, { fn: c.fn, calls: [] });
    /** @type {any} */ (byFn.get(k)).calls.push(c.call);
  }
  const out = [{ id: "all", label: `All calls (${calls.length})`, calls: calls.map((/** @type {any} */ c) => c.call) }];
  for (const [k, f] of byFn) if (f.calls.length > 1) out.push({ id: `fn:${k}`, label: `${f.fn}: all ${f.calls.length} calls`, calls: f.calls });
  for (const c of [...calls].reverse()) out.push({ id: `call:${c.call}`, label: `#${c.call} ${c.fn}`, calls: [c.call] });
  return out;
}

/**
 * The merged tree of some calls of `state.profile`.
 * @param {any} profile @param {number[]} callIds
 */
export function treeOf(profile, callIds) {
  const root = empty();
  const want = new Set(callIds);
  for (const c of profile?.calls ?? []) if (want.has(c.call)) mergeInto(root, c.tree);
  return root;
}

/**
 * A flame graph's boxes (an icicle: the root on top): `x` and `w` as fractions of the
 * width, children in name order so that a live graph does not reshuffle; boxes thinner
 * than `minW` are left out (their samples show in the parent's width).
 * @param {Tree} root @param {number} [minW] @param {number} [maxDepth]
 * @returns {Box[]}
 */
export function layout(root, minW = 0.002, maxDepth = 40) {
  /** @type {Box[]} */
  const out = [];
  if (!root.count) return out;
  /** @param {Tree} node @param {number} x @param {number} depth @param {string} path */
  const walk = (node, x, depth, path) => {
    const w = node.count / root.count;
    if (w < minW || depth > maxDepth) return;
    out.push({ x, w, depth, node, path });
    let cx = x;
    const kids = [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.line - b.line));
    for (const c of kids) {
      walk(c, cx, depth + 1, `${path}/${c.name}:${c.line}`);
      cx += c.count / root.count;
    }
  };
  walk(root, 0, 0, "");
  return out;
}

/**
 * Follow `path` (from `layout`) down from `root`; the root when it no longer exists.
 * @param {Tree} root @param {string} path
 */
export function find(root, path) {
  let node = root;
  for (const part of path.split("/").slice(1)) {
    const next = [...node.children.values()].find((c) => `${c.name}:${c.line}` === part);
    if (!next) return root;
    node = next;
  }
  return node;
}

/**
 * The functions where the samples were taken, most first: own samples (the frame was
 * running, not calling), and total ones (on the stack; a recursive function counted once).
 * @param {Tree} root @param {number} [n]
 * @returns {Array<{name: string, file: number, line: number, self: number, total: number}>}
 */
export function hottest(root, n = 10) {
  /** @type {Map<string, {name: string, file: number, line: number, self: number, total: number}>} */
  const rows = new Map();
  /** @param {Tree} node @param {Set<string>} above */
  const walk = (node, above) => {
    for (const c of node.children.values()) {
      const k = `${c.name}\u0000${c.file}\u0000${c.line}`;
      let r = rows.get(k);
      if (!r) rows.set(k, (r = { name: c.name, file: c.file, line: c.line, self: 0, total: 0 }));
      let own = c.count;
      for (const g of c.children.values()) own -= g.count;
      r.self += Math.max(0, own);
      if (!above.has(k)) r.total += c.count;
      const next = new Set(above).add(k);
      walk(c, next);
    }
  };
  walk(root, new Set());
  return [...rows.values()].filter((r) => r.self > 0).sort((a, b) => b.self - a.self || b.total - a.total).slice(0, n);
}

/**
 * A frame's palette index, from its function's name: the same name has the same colour in
 * every view (the static snapshot hashes it the same way, kernel_ext/_snapshot_profile.py).
 * @param {string} name
 */
export function nameHash(name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + name.charCodeAt(i)) >>> 0;
  return h;
}

/**
 * A file path cut to its last parts (site-packages and home folders are long).
 * @param {string} file @param {number} [parts]
 */
export function shortFile(file, parts = 2) {
  if (!file) return "";
  const bits = file.split(/[\\/]/);
  return bits.length > parts ? `…/${bits.slice(-parts).join("/")}` : file;
}
