import { test } from "node:test";
import assert from "node:assert/strict";
import { choices, find, hottest, layout, shortFile, treeOf } from "../src/profile-math.js";

// Two calls of `outer` and one of `other`, as kernel_ext/state_profile.py sends them:
// nodes [name, file index, line, count, children], inclusive counts.
const profile = {
  interval: 0.01,
  files: ["", "/home/u/nb.py", "/usr/lib/python3.11/json/decoder.py"],
  calls: [
    { call: 1, fn: "outer", module: "__main__", samples: 10, tree: ["", 0, 0, 10, [["outer", 1, 3, 10, [["helper", 1, 9, 8, [["inner", 1, 20, 6, []]]], ["decode", 2, 332, 2, []]]]]] },
    { call: 2, fn: "outer", module: "__main__", samples: 4, tree: ["", 0, 0, 4, [["outer", 1, 3, 4, [["helper", 1, 9, 4, []]]]]] },
    { call: 3, fn: "other", module: "__main__", samples: 1, tree: ["", 0, 0, 1, [["other", 1, 30, 1, []]]] },
  ],
};

test("the picker offers all calls, a function's calls when it has several, and each call", () => {
  const ids = choices(profile).map((c) => c.id);
  assert.deepEqual(ids, ["all", "fn:__main__.outer", "call:3", "call:2", "call:1"]);
  assert.deepEqual(choices(profile)[1].calls, [1, 2]);
  assert.deepEqual(choices({}).map((c) => c.id), ["all"]);
});

test("trees of several calls merge by function and path", () => {
  const root = treeOf(profile, [1, 2]);
  assert.equal(root.count, 14);
  const outer = [...root.children.values()][0];
  assert.equal(outer.count, 14);
  const helper = [...outer.children.values()].find((c) => c.name === "helper");
  assert.equal(helper?.count, 12);
  assert.equal(treeOf(profile, [3]).count, 1);
});

test("the flame graph's boxes: widths are shares, children side by side, thin ones left out", () => {
  const root = treeOf(profile, [1]);
  const boxes = layout(root);
  const byName = Object.fromEntries(boxes.map((b) => [b.node.name, b]));
  assert.equal(byName.all.w, 1);
  assert.equal(byName.outer.w, 1);
  assert.equal(byName.helper.w, 0.8);
  assert.equal(byName.decode.x, 0); // name order: decode before helper
  assert.equal(byName.helper.x, 0.2);
  assert.equal(byName.inner.depth, 3);
  assert.equal(layout(root, 0.7).length, 3); // all, outer, helper (inner is 0.6)
  assert.equal(find(root, byName.inner.path).name, "inner");
  assert.equal(find(root, "/gone:1"), root);
});

test("the hottest frames are ranked by own samples (ties: by total samples)", () => {
  const rows = hottest(treeOf(profile, [1, 2]));
  assert.deepEqual(rows.map((r) => [r.name, r.self, r.total]), [["helper", 6, 12], ["inner", 6, 6], ["decode", 2, 2]]);
  assert.equal(shortFile("/usr/lib/python3.11/json/decoder.py"), "…/json/decoder.py");
  assert.equal(shortFile("nb.py"), "nb.py");
});

test("a frame's colour comes from its name, hashed as the static snapshot hashes it", async () => {
  const { nameHash } = await import("../src/profile-math.js");
  // the same numbers as kernel_ext/_snapshot_profile.py's name_hash (tests/unit/test_profile_trees.py)
  assert.equal(nameHash("hot_helper"), 4063524832);
  assert.equal(nameHash("é😀"), 1996812);
});
