/**
 * The pop-out page entry (served by the server extension). The page's HTML
 * provides `<body data-ws-url="..." data-pool-id="...">` and loads this module;
 * it draws the same dashboard as the widget from a websocket.
 *
 * WebSocket framing (server → page)
 * ---------------------------------
 * Text frames are JSON objects:
 *   {"type": "state", "state": {...}}                      the whole State (docs/state.md);
 *       the server leaves "errors" out when they did not change (tracebacks
 *       are heavy): the page then keeps the errors it has.
 *   {"type": "stream" | "resources", "reset": bool, "first": k}
 *       a delta header; the NEXT frame is a binary frame holding the records
 *       as little-endian float64 (n*6 or n*5 values). A header with "n": 0
 *       (or "empty": true) has no binary frame after it.
 *   {"type": "error", "message": "..."}                    shown as a banner
 * A binary frame may also be self-contained (used when it does not follow a
 * header): bytes 0..3 = uint32 LE header length H, then H bytes of UTF-8
 * JSON header as above, zero padding to a multiple of 8 bytes, then the
 * float64 records.
 *
 * Page → server (text JSON): {"type": "request_full"} after (re)connecting and
 * whenever the store detects missed records. The server answers with a state
 * message and stream/resources messages with "reset": true.
 *
 * The page's body may carry data-panes="task-stream,memory" to show only those
 * panes (the sidebar opens single panes this way); empty means all.
 *
 * If the socket closes the page shows "disconnected — reconnecting…" and
 * retries with exponential backoff (0.5 s doubling to 5 s). When the pool's
 * status is "closed" the last state stays on screen with a "pool finished"
 * banner.
 */
import { cancelCall, poolApiUrl } from "./control.js";
import { createStore } from "./store.js";
import { mountDashboard } from "./dashboard.js";

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 5000;

/**
 * Parse a self-contained binary frame (see the header comment).
 * @param {ArrayBuffer} buf
 * @returns {{msg: any, data: Float64Array} | null}
 */
export function parseBinaryFrame(buf) {
  if (buf.byteLength < 4) return null;
  const hlen = new DataView(buf).getUint32(0, true);
  if (4 + hlen > buf.byteLength) return null;
  const msg = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, hlen)));
  const off = Math.ceil((4 + hlen) / 8) * 8;
  const n = Math.floor(Math.max(0, buf.byteLength - off) / 8);
  return { msg, data: new Float64Array(buf, off, n) };
}

/**
 * Turn a possibly relative ws URL into an absolute ws(s):// URL.
 * @param {string} url @param {string} base page location
 */
export function absoluteWsUrl(url, base) {
  const u = new URL(url, base);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  return u.toString();
}

/** Make sure the dashboard's stylesheet is on the page (built next to this file). */
function ensureCss() {
  if (document.querySelector("link[data-taskscope-css], style[data-taskscope-css]")) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = new URL("./widget.css", import.meta.url).toString();
  link.dataset.taskscopeCss = "1";
  document.head.append(link);
}

/**
 * Connect the dashboard to a websocket. Exposed for the dev harness.
 * @param {HTMLElement} el @param {{wsUrl: string, poolId?: string, panes?: string[]}} cfg
 */
export function startPage(el, cfg) {
  /** @type {WebSocket | null} */
  let ws = null;
  let backoff = BACKOFF_MIN_MS;
  let closedByUs = false;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  /** @type {any} */
  let pendingHeader = null;

  const send = (/** @type {any} */ obj) => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
  };
  const store = createStore({ onGap: () => send({ type: "request_full" }) });
  const api = poolApiUrl(cfg.wsUrl);
  const dash = mountDashboard(el, store, {
    ...(cfg.panes && cfg.panes.length ? { panes: cfg.panes } : {}),
    onCancel: (/** @type {number} */ call) => cancelCall(api, call),
  });
  document.documentElement.classList.add("ts-page");

  const syncTitleAndBanner = () => {
    const st = store.state ?? {};
    const pool = st.pool ?? {};
    if (pool.name) document.title = `${pool.name} · taskscope`;
    dash.setNotice("finished", pool.status === "closed" ? "info" : null,
      pool.status === "closed" ? "Pool finished — showing its final state." : null);
  };
  store.subscribe(syncTitleAndBanner);

  /** @param {MessageEvent} ev */
  function onMessage(ev) {
    const d = ev.data;
    if (typeof d === "string") {
      let msg;
      try {
        msg = JSON.parse(d);
      } catch {
        console.warn("taskscope: ignoring a non-JSON text frame");
        return;
      }
      if (msg.type === "stream" || msg.type === "resources") {
        if (msg.n === 0 || msg.empty) store.applyMessage(msg, []);
        else pendingHeader = msg;
      } else if (msg.type === "error") {
        dash.setNotice("server", "error", String(msg.message ?? "server error"));
      } else {
        if (msg.type === "state" && msg.state && typeof msg.state === "object" && !("errors" in msg.state)) {
          msg.state.errors = store.state?.errors ?? [];
        }
        store.applyMessage(msg, []);
      }
      return;
    }
    if (d instanceof ArrayBuffer) {
      if (pendingHeader) {
        const h = pendingHeader;
        pendingHeader = null;
        store.applyMessage(h, [d]);
      } else {
        const f = parseBinaryFrame(d);
        if (f) store.applyMessage(f.msg, [f.data]);
      }
    }
  }

  function connect() {
    timer = null;
    let sock;
    try {
      sock = new WebSocket(absoluteWsUrl(cfg.wsUrl, location.href));
    } catch (e) {
      console.error("taskscope: bad websocket URL", e);
      dash.setNotice("conn", "error", "Cannot connect: bad websocket URL.");
      return;
    }
    ws = sock;
    sock.binaryType = "arraybuffer";
    sock.onopen = () => {
      backoff = BACKOFF_MIN_MS;
      pendingHeader = null;
      dash.setNotice("conn", null, null);
      dash.root.dataset.connected = "1";
      sock.send(JSON.stringify({ type: "request_full" }));
    };
    sock.onmessage = onMessage;
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      dash.root.dataset.connected = "0";
      if (closedByUs) return;
      const finished = store.state?.pool?.status === "closed";
      dash.setNotice("conn", finished ? "info" : "warn", "Disconnected — reconnecting…");
      timer = setTimeout(connect, backoff);
      backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
    };
    sock.onerror = () => {
      /* onclose follows and schedules the retry */
    };
  }
  connect();

  return {
    store,
    dashboard: dash,
    close() {
      closedByUs = true;
      if (timer) clearTimeout(timer);
      ws?.close();
      dash.destroy();
    },
  };
}

// Auto-start when loaded by the pop-out page.
if (typeof document !== "undefined" && document.body?.dataset?.wsUrl) {
  ensureCss();
  const host = document.getElementById("taskscope") ?? document.body;
  const panes = (document.body.dataset.panes ?? "").split(",").filter(Boolean);
  startPage(host, { wsUrl: document.body.dataset.wsUrl, poolId: document.body.dataset.poolId, panes });
}
