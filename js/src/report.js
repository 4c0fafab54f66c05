/**
 * The offline report's entry (kernel_ext/reports.py inlines this bundle, the
 * stylesheet and the data into one HTML file): the same dashboard and panes
 * as the widget and the pop-out page, drawn from an embedded State, with no
 * server, no kernel and no network (it opens from file://).
 *
 *   <script type="application/json" id="taskscope-report">{"v": 1, "pools": [
 *       {"state": {...State JSON, errors included...},
 *        "stream":    {"first": k, "n": n, "width": 6, "data": "<base64>"},
 *        "resources": {"first": k, "n": n, "width": 5, "data": "<base64>"}}]}
 *   ──decodeRing──▶ Store (one per pool) ──▶ mountDashboard (one per pool)
 *
 * A ring's `data` is its records as columns (one float64 column per field),
 * each column byte-shuffled (all first bytes, then all second bytes, ...) and
 * the whole deflated (zlib): lossless, and 100,000 task records come to ~1 MB.
 * The browser's own DecompressionStream inflates it.
 */
import { createStore } from "./store.js";
import { DEFAULT_PANES, mountDashboard } from "./dashboard.js";

/** @param {string} b64 @returns {Uint8Array<ArrayBuffer>} */
export function fromBase64(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** @param {Uint8Array<ArrayBuffer>} bytes zlib data @returns {Promise<Uint8Array>} */
export async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Shuffled columns back to interleaved records (the Ring's layout).
 * @param {Uint8Array} bytes @param {number} n records @param {number} width fields
 * @returns {Float64Array}
 */
export function unshuffle(bytes, n, width) {
  const out = new Float64Array(n * width);
  const col = new Uint8Array(n * 8);
  const colF = new Float64Array(col.buffer);
  for (let f = 0; f < width; f++) {
    const base = f * n * 8;
    for (let b = 0; b < 8; b++) {
      const src = base + b * n;
      for (let i = 0; i < n; i++) col[i * 8 + b] = bytes[src + i];
    }
    for (let i = 0; i < n; i++) out[i * width + f] = colF[i];
  }
  return out;
}

/** @param {any} ring @returns {Promise<Float64Array>} */
export async function decodeRing(ring) {
  if (!ring || !ring.n) return new Float64Array(0);
  return unshuffle(await inflate(fromBase64(ring.data)), ring.n, ring.width);
}

/**
 * Draw one pool's dashboard into `el`.
 * @param {HTMLElement} el @param {any} pool one entry of the data's `pools`
 */
export async function mountPool(el, pool) {
  const store = createStore();
  store.setState(pool.state ?? {});
  const t0 = performance.now();
  for (const name of /** @type {const} */ (["stream", "resources"])) {
    const ring = pool[name];
    store.applyMessage({ type: name, reset: true, first: ring?.first ?? 0 }, [await decodeRing(ring)]);
  }
  const t1 = performance.now();
  // The task graph is optional in a live dashboard; a report shows it whenever there is one.
  const dash = mountDashboard(el, store, pool.state?.graph ? { panes: [...DEFAULT_PANES, "graph"] } : {});
  dash.root.dataset.report = "1";
  // Open on the whole run, not the live edge: a report is read after the fact.
  const extent = streamExtent(store.stream);
  const ts = /** @type {any} */ (/** @type {Record<string, unknown>} */ (dash.panes)["task-stream"]);
  if (extent && ts?.setWindow) ts.setWindow(extent);
  // Where the opening time goes (benchmarks/report.py): decoding the rings, drawing.
  dash.root.dataset.decodeMs = (t1 - t0).toFixed(1);
  dash.root.dataset.drawMs = (performance.now() - t1).toFixed(1);
  return { store, dashboard: dash };
}

/**
 * First start and last end of the kept records, padded by 1%.
 * @param {import("./ring.js").Ring} ring
 * @returns {{t0: number, t1: number} | null}
 */
export function streamExtent(ring) {
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const [s, e] of ring.spans()) {
    for (let o = s; o < e; o += ring.width) {
      if (ring.data[o] < t0) t0 = ring.data[o];
      if (ring.data[o + 1] > t1) t1 = ring.data[o + 1];
    }
  }
  if (!(t1 > t0)) return null;
  const pad = (t1 - t0) * 0.01;
  return { t0: t0 - pad, t1: t1 + pad };
}

async function main() {
  const holder = document.getElementById("taskscope-report");
  const host = document.getElementById("taskscope") ?? document.body;
  if (!holder) return;
  document.documentElement.classList.add("ts-page");
  try {
    const data = JSON.parse(holder.textContent ?? "{}");
    const pools = Array.isArray(data.pools) ? data.pools : [];
    for (const pool of pools) {
      const el = document.createElement("section");
      el.className = "ts-report-pool";
      host.append(el);
      await mountPool(el, pool);
    }
    // When it was drawn, in ms since navigation began (benchmarks/report.py reads it).
    document.body.dataset.readyMs = performance.now().toFixed(1);
    document.body.dataset.ready = String(pools.length);
  } catch (e) {
    console.error("taskscope: could not draw the report", e);
    const msg = document.createElement("p");
    msg.className = "ts-report-error";
    msg.textContent = typeof DecompressionStream === "undefined"
      ? "taskscope: this browser cannot read the report (it lacks DecompressionStream); open it in a current Chrome, Edge, Firefox or Safari."
      : `taskscope: could not draw the report: ${e}`;
    host.append(msg);
    document.body.dataset.ready = "error";
  }
}

if (typeof document !== "undefined" && document.getElementById("taskscope-report")) main();
