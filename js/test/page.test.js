import { test } from "node:test";
import assert from "node:assert/strict";
import { findSuccessor, poolListUrl, wsUrlFor } from "../src/page.js";

test("wsUrlFor swaps the pool id and keeps the base", () => {
  assert.equal(wsUrlFor("/user/x/taskscope/api/pools/abc/ws", "def"), "/user/x/taskscope/api/pools/def/ws");
  assert.equal(wsUrlFor("ws://h:1/b/taskscope/api/pools/abc/ws", "f0"), "ws://h:1/b/taskscope/api/pools/f0/ws");
});

test("poolListUrl points at the REST list", () => {
  assert.equal(poolListUrl("/user/x/taskscope/api/pools/abc/ws", "http://h:8/user/x/taskscope/pools/abc?token=t"),
    "http://h:8/user/x/taskscope/api/pools?finished=1");
});

test("findSuccessor: a live pool with the same name and origin, another id, newest first", () => {
  const list = [
    { id: "a", name: "p", origin: "script", live: false },
    { id: "b", name: "p", origin: "script", live: true, started: 1 },
    { id: "c", name: "p", origin: "kernel", live: true, started: 3 },
    { id: "d", name: "q", origin: "script", live: true, started: 4 },
    { id: "e", name: "p", origin: "script", live: true, started: 2 },
  ];
  assert.equal(findSuccessor(list, { id: "a", name: "p", origin: "script" })?.id, "e");
  assert.equal(findSuccessor(list, { id: "a", name: "zz" }), null);
  assert.equal(findSuccessor(list, { id: "a" }), null);
  assert.equal(findSuccessor([{ id: "a", name: "p", live: true }], { id: "a", name: "p" }), null);
  // a pool that was already running before ours started is not its restart
  assert.equal(findSuccessor(list, { id: "x", name: "p", origin: "script", started: 5 }), null);
});
