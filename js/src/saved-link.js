/**
 * The widget's side of taskscope's JupyterLab renderer (js/lab/src/saved.js), which keeps a
 * live output's static snapshot in the notebook, for whenever it is saved:
 *
 *   kernel ─{"type":"snapshot", z:"deflate"} + buffer─▶ widget ─"taskscope-snapshot"─▶ renderer
 *   renderer ─"taskscope-renderer" (on the view's root)─▶ widget ─{"type":"renderer"}─▶ kernel
 *   renderer: request() ─▶ widget ─{"type":"request_snapshot", id}─▶ kernel ─ snapshot, reply: id
 *
 * The handshake tells the kernel that its client keeps the snapshot itself: it stops sending
 * that client update_display_data at the end of cells and draws the snapshot off its main
 * thread (kernel_ext/saved_clients.py). Outside JupyterLab and Notebook 7 (Voila, marimo,
 * the pop-out page) no renderer answers, and the kernel is told nothing.
 */

export const SNAPSHOT_EVENT = "taskscope-snapshot";
export const RENDERER_EVENT = "taskscope-renderer";

/** Whether this browser inflates deflated snapshots (all but Firefox < 113, Safari < 16.4). */
export const canInflate = () => typeof DecompressionStream === "function";

/**
 * The HTML a snapshot message carries: inline (`html`), or deflated (zlib) in its first
 * buffer (`z: "deflate"`).
 * @param {any} msg @param {any[]} [buffers] ArrayBuffers or views (DataView from anywidget)
 * @returns {Promise<string>}
 */
export async function snapshotHtml(msg, buffers) {
  if (typeof msg.html === "string") return msg.html;
  const b = buffers?.[0];
  if (msg.z !== "deflate" || !b) return "";
  const bytes = ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return await new Response(stream).text();
}

/**
 * Relay the kernel's snapshot messages (kernel_ext/saved_output.py) as a bubbling DOM event
 * from `el`, in the order they came, and answer a renderer's handshake: a
 * `taskscope-renderer` event dispatched inside `el` gets `detail.request`, a function that
 * asks the kernel for a fresh snapshot and resolves once its answer was relayed.
 * @param {import("./widget-host.js").AnyModel} model @param {HTMLElement} el
 * @returns {() => void} dispose
 */
export function relaySnapshot(model, el) {
  let chain = Promise.resolve();
  let nextId = 1;
  /** @type {Map<number, () => void>} request id -> resolve */
  const waiting = new Map();
  /** @param {any} msg @param {any[]} [buffers] */
  const onMsg = (msg, buffers) => {
    if (!msg || msg.type !== "snapshot") return;
    // One at a time: a newer snapshot never loses to an older one still inflating.
    chain = chain.then(async () => {
      try {
        const html = await snapshotHtml(msg, buffers);
        if (html) {
          el.dispatchEvent(new CustomEvent(SNAPSHOT_EVENT, { bubbles: true, detail: { html, final: !!msg.final } }));
        }
      } catch (e) {
        console.warn("taskscope: could not read a snapshot from the kernel", e);
      }
      if (msg.reply != null) {
        waiting.get(msg.reply)?.();
        waiting.delete(msg.reply);
      }
    });
  };
  /** @returns {Promise<void>} */
  const request = () =>
    new Promise((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      try {
        model.send({ type: "request_snapshot", id });
      } catch {
        waiting.delete(id);
        resolve();
      }
    });
  /** @param {any} e */
  const onRenderer = (e) => {
    if (!e.detail || e.detail.request) return;
    e.detail.request = request;
    try {
      model.send({ type: "renderer", inflate: canInflate() });
    } catch (err) {
      console.warn("taskscope: could not tell the kernel about the saved-output renderer", err);
    }
  };
  model.on("msg:custom", onMsg);
  el.addEventListener(RENDERER_EVENT, onRenderer);
  return () => {
    model.off("msg:custom", onMsg);
    el.removeEventListener(RENDERER_EVENT, onRenderer);
    for (const resolve of waiting.values()) resolve();
    waiting.clear();
  };
}
