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
 *
 * Pool restarts: while the pool is closed/broken, or the server says it does
 * not know it (close codes 4404/4410), the page polls the REST list
 * (`…/taskscope/api/pools?finished=1`, every 2 s) for a LIVE pool with the
 * same name (and origin) and another id. When one appears the page follows it:
 * a "pool restarted" banner, the websocket moves to the new pool, a full
 * resync replaces the store (the old final state stays drawn until then) and
 * the address bar is updated with history.replaceState.
 */
import { cancelCall, poolApiUrl } from "./control.js";
import { createStore } from "./store.js";
import { mountDashboard } from "./dashboard.js";

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 5000;
const RESTART_POLL_MS = 2000;
const CLOSE_UNKNOWN = 4404;
const CLOSE_GONE = 4410;

/** The ws URL of another pool, derived from the current one. @param {string} wsUrl @param {string} id */
export function wsUrlFor(wsUrl, id) {
  return wsUrl.replace(/\/pools\/[^/]+\/ws(\/?)$/, `/pools/${encodeURIComponent(id)}/ws$1`);
}

/** The REST list URL next to a pool's ws URL. @param {string} wsUrl @param {string} base */
export function poolListUrl(wsUrl, base) {
  const u = new URL(poolApiUrl(wsUrl, base));
  u.pathname = u.pathname.replace(/\/pools\/[^/]+$/, "/pools");
  u.search = "?finished=1";
  return u.toString();
}

/**
 * The live pool that replaces `old` (same name and origin, another id, not
 * started before it), if any.
 * @param {any[]} list REST list entries
 * @param {{id: string, name?: string, origin?: string, started?: number}} old
 */
export function findSuccessor(list, old) {
  if (!old.name || !Array.isArray(list)) return null;
  const hits = list.filter((p) => p && p.live && p.id !== old.id && p.name === old.name
    && (old.origin == null || p.origin == null || p.origin === old.origin)
    && !(Number(old.started) > Number(p.started)));
  hits.sort((a, b) => (Number(b.started) || 0) - (Number(a.started) || 0));
  return hits[0] ?? null;
}

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
  let wsUrl = cfg.wsUrl;
  let poolId = cfg.poolId ?? "";
  let unknown = false; // the server closed the socket: it does not know (or dropped) the pool
  /** @type {{name?: string, origin?: string, started?: number}} what the list said about our pool */
  let known = {};
  let polling = false;

  const send = (/** @type {any} */ obj) => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
  };
  const store = createStore({ onGap: () => send({ type: "request_full" }) });
  let api = poolApiUrl(wsUrl);
  const dash = mountDashboard(el, store, {
    ...(cfg.panes && cfg.panes.length ? { panes: cfg.panes } : {}),
    onCancel: (/** @type {number} */ call) => cancelCall(api, call),
  });
  document.documentElement.classList.add("ts-page");
  const showPoolId = () => {
    dash.root.dataset.poolId = poolId;
    if (document.body) document.body.dataset.poolId = poolId;
  };
  showPoolId();

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
        if (msg.type === "state") unknown = false;
        if (msg.type === "state" && msg.state && typeof msg.state === "object" && !("graph" in msg.state) && store.state?.graph) {
          msg.state.graph = store.state.graph; // sent only when it changed (as the errors)
        }
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
      sock = new WebSocket(absoluteWsUrl(wsUrl, location.href));
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
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      if (ev.code === CLOSE_UNKNOWN || ev.code === CLOSE_GONE) unknown = true;
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

  /** Switch to the pool that replaced ours. @param {any} next a REST list entry */
  function follow(next) {
    poolId = String(next.id);
    wsUrl = wsUrlFor(wsUrl, poolId);
    api = poolApiUrl(wsUrl);
    unknown = false;
    known = {};
    showPoolId();
    dash.setNotice("server", null, null);
    dash.setNotice("restarted", "info", "Pool restarted — following the new one.");
    if (typeof next.url === "string" && typeof history !== "undefined") {
      try {
        history.replaceState(history.state, "", new URL(next.url, location.href).pathname + location.search);
      } catch (e) {
        console.warn("taskscope: could not update the address bar", e);
      }
    }
    // The old pool's final state stays drawn until the new pool's full resync replaces it.
    if (timer) clearTimeout(timer);
    const old = ws;
    ws = null;
    old?.close();
    backoff = BACKOFF_MIN_MS;
    connect();
  }

  async function pollRestart() {
    const status = store.state?.pool?.status;
    if (polling || closedByUs || !(unknown || status === "closed" || status === "broken")) return;
    polling = true;
    try {
      const resp = await fetch(poolListUrl(wsUrl, location.href), { credentials: "same-origin", cache: "no-store" });
      if (!resp.ok) return;
      const list = await resp.json();
      const mine = Array.isArray(list) ? list.find((p) => p && p.id === poolId) : null;
      if (mine) known = { name: mine.name, origin: mine.origin, started: mine.started };
      const old = { id: poolId, ...known, name: known.name ?? store.state?.pool?.name };
      const next = findSuccessor(list, old);
      if (next && !closedByUs) follow(next);
    } catch {
      /* the server is away: the socket's reconnect says so; try again later */
    } finally {
      polling = false;
    }
  }
  const pollTimer = setInterval(pollRestart, RESTART_POLL_MS);

  return {
    store,
    dashboard: dash,
    close() {
      closedByUs = true;
      clearInterval(pollTimer);
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
