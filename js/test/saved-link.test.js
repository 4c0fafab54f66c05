import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { RENDERER_EVENT, SNAPSHOT_EVENT, relaySnapshot, snapshotHtml } from "../src/saved-link.js";
import { fakeModel } from "./fake-model.js";


/** zlib bytes as anywidget hands buffers over: a DataView into a larger buffer. */
function deflated(/** @type {string} */ text) {
  const z = deflateSync(Buffer.from(text));
  const big = new Uint8Array(z.length + 16);
  big.set(z, 8);
  return new DataView(big.buffer, 8, z.length);
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

test("a deflated snapshot inflates to its HTML; an inline one is used as it is", async () => {
  const html = '<div class="tss-root">' + "é ".repeat(5000) + "</div>";
  assert.equal(await snapshotHtml({ type: "snapshot", z: "deflate" }, [deflated(html)]), html);
  assert.equal(await snapshotHtml({ type: "snapshot", html: "<b>x</b>" }, []), "<b>x</b>");
  assert.equal(await snapshotHtml({ type: "snapshot", reply: 3 }, []), "");
});

test("snapshots are relayed in order, a final flag kept; other messages are not", async () => {
  const model = fakeModel();
  const el = new EventTarget();
  const seen = /** @type {any[]} */ ([]);
  el.addEventListener(SNAPSHOT_EVENT, (e) => seen.push(/** @type {any} */ (e).detail));
  const dispose = relaySnapshot(model, /** @type {any} */ (el));
  const big = "<p>" + "a".repeat(200_000) + "</p>"; // slower to inflate than the next one
  model.emit("msg:custom", { type: "snapshot", z: "deflate", final: false }, [deflated(big)]);
  model.emit("msg:custom", { type: "snapshot", html: "<p>second</p>", final: true });
  model.emit("msg:custom", { type: "stream", reset: false }, []);
  await settle();
  assert.deepEqual(seen.map((d) => [d.html.length, d.final]), [[big.length, false], ["<p>second</p>".length, true]]);
  dispose();
  model.emit("msg:custom", { type: "snapshot", html: "<p>late</p>" });
  await settle();
  assert.equal(seen.length, 2);
});

test("the renderer's handshake announces it to the kernel once and hands back request()", async () => {
  const model = fakeModel();
  const el = new EventTarget();
  relaySnapshot(model, /** @type {any} */ (el));
  /** @type {any} */
  const detail = {};
  el.dispatchEvent(new CustomEvent(RENDERER_EVENT, { detail }));
  assert.equal(typeof detail.request, "function");
  assert.deepEqual(model.sent, [{ type: "renderer", inflate: true }]);
  // request(): a request_snapshot with an id; resolved by the reply with that id, after
  // the reply's HTML (if any) was relayed.
  const seen = /** @type {string[]} */ ([]);
  el.addEventListener(SNAPSHOT_EVENT, (e) => seen.push(/** @type {any} */ (e).detail.html));
  let answered = false;
  const pending = detail.request().then(() => {
    answered = true;
    return [...seen];
  });
  const ask = model.sent[1];
  assert.equal(ask.type, "request_snapshot");
  model.emit("msg:custom", { type: "snapshot", reply: ask.id + 100 }); // another request's
  await settle();
  assert.equal(answered, false);
  model.emit("msg:custom", { type: "snapshot", z: "deflate", reply: ask.id }, [deflated("<p>fresh</p>")]);
  assert.deepEqual(await pending, ["<p>fresh</p>"]);
});
