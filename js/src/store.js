/**
 * The host-agnostic store every pane draws from.
 *
 *   host (anywidget model | pop-out websocket)
 *     ├─ setState(json)                ─┐
 *     └─ applyMessage(msg, buffers)    ─┼─▶ store ──(one notification per frame)──▶ panes
 *          stream / resources deltas    │     ▲
 *     ◀─ onGap() → host sends            ┘     └─ frozen: panes see a snapshot, data still accumulates
 *        {"type": "request_full"}
 *
 * Formats: docs/state.md. Stream record = 6 float64 (start, end, worker,
 * color, count, flags); resource record = 5 float64 (t, cpu_total, rss_total,
 * tasks_per_s, managed_total).
 */
import { Ring } from "./ring.js";

export const STREAM_WIDTH = 6;
export const RESOURCE_WIDTH = 5;
export const DEFAULT_STREAM_CAPACITY = 100_000;
export const DEFAULT_RESOURCE_CAPACITY = 3_600; // an hour at one sample a second

/** Re-ask for a full resync at most this often (ms) if the reset never came. */
const REQUEST_FULL_RETRY_MS = 5_000;

/**
 * @typedef {{state: any, stream: Ring, resources: Ring}} View
 * @typedef {{kind: "stream"|"resources", expected: number, got: number}} GapInfo
 * @typedef {object} StoreOptions
 * @property {number} [streamCapacity]
 * @property {number} [resourceCapacity]
 * @property {(gap: GapInfo) => void} [onGap]  called when records were missed; the host should send {"type":"request_full"}
 * @property {(cb: () => void) => void} [schedule]  how notifications are coalesced (default: requestAnimationFrame)
 */

/** @param {() => void} cb */
function defaultSchedule(cb) {
  if (typeof requestAnimationFrame === "function" && typeof document !== "undefined" && !document.hidden) {
    requestAnimationFrame(() => cb());
  } else {
    setTimeout(cb, 16);
  }
}

/**
 * Turn whatever the host delivered (ArrayBuffer, DataView, any typed array,
 * or a plain number array) into a Float64Array without copying when possible.
 * @param {any} buf
 * @returns {Float64Array}
 */
export function toFloat64(buf) {
  if (buf == null) return new Float64Array(0);
  if (buf instanceof Float64Array) return buf;
  if (buf instanceof ArrayBuffer) return new Float64Array(buf, 0, Math.floor(buf.byteLength / 8));
  if (ArrayBuffer.isView(buf)) {
    const n = Math.floor(buf.byteLength / 8);
    if (buf.byteOffset % 8 === 0) return new Float64Array(buf.buffer, buf.byteOffset, n);
    // unaligned view: copy the bytes out
    return new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + n * 8));
  }
  if (Array.isArray(buf)) return Float64Array.from(buf);
  return new Float64Array(0);
}

export class Store {
  /** @param {StoreOptions} [opts] */
  constructor(opts = {}) {
    /** @type {any} the latest State JSON (docs/state.md) */
    this.state = {};
    this.stream = new Ring(opts.streamCapacity ?? DEFAULT_STREAM_CAPACITY, STREAM_WIDTH);
    this.resources = new Ring(opts.resourceCapacity ?? DEFAULT_RESOURCE_CAPACITY, RESOURCE_WIDTH);
    this.onGap = opts.onGap ?? null;
    this._schedule = opts.schedule ?? defaultSchedule;
    /** @type {Set<() => void>} */
    this._subs = new Set();
    this._pending = false;
    this._frozen = false;
    /** @type {View | null} */
    this._snapshot = null;
    /** @type {Record<string, number>} when a full resync was last requested, per ring (ms) */
    this._requested = {};
    /** total gaps detected (for diagnostics and tests) */
    this.gapsDetected = 0;
  }

  get frozen() {
    return this._frozen;
  }

  /** Freeze (panes keep the last snapshot; data keeps accumulating) or resume. */
  set frozen(v) {
    v = !!v;
    if (v === this._frozen) return;
    this._frozen = v;
    this._snapshot = v
      ? { state: this.state, stream: this.stream.clone(), resources: this.resources.clone() }
      : null;
    this._notifyNow(); // the freeze toggle itself is always announced
  }

  /** What panes draw: the live data, or the snapshot taken when frozen. @returns {View} */
  view() {
    return this._snapshot ?? { state: this.state, stream: this.stream, resources: this.resources };
  }

  /** @param {any} obj the State JSON; replaced, never mutated */
  setState(obj) {
    this.state = obj && typeof obj === "object" ? obj : {};
    this._changed();
  }

  /**
   * Apply one host message. Returns true when it was one of ours.
   * @param {any} msg
   * @param {any[]} [buffers]
   */
  applyMessage(msg, buffers) {
    if (!msg || typeof msg !== "object") return false;
    if (msg.type === "state") {
      this.setState(msg.state);
      return true;
    }
    if (msg.type !== "stream" && msg.type !== "resources") return false;
    const ring = msg.type === "stream" ? this.stream : this.resources;
    const recs = toFloat64(buffers && buffers.length ? buffers[0] : msg.data);
    const w = ring.width;
    const n = Math.floor(recs.length / w);
    const first = Number.isFinite(msg.first) ? msg.first : ring.end;
    if (msg.reset) {
      ring.clear(first);
      ring.push(recs);
      this._requested[msg.type] = 0;
    } else if (first === ring.end) {
      ring.push(recs);
    } else if (first < ring.end) {
      // overlap (a resend): keep only what is new
      const skip = ring.end - first;
      if (skip < n) ring.push(recs.subarray(skip * w));
    } else {
      // records [ring.end, first) were missed: keep drawing what we have plus
      // the new ones, and ask the host for a full resync (at most every few s).
      const gap = { kind: /** @type {"stream"|"resources"} */ (msg.type), expected: ring.end, got: first };
      this.gapsDetected++;
      if (ring.length === 0) ring.clear(first);
      else ring.first = first - ring.length; // keep global indices contiguous from here on
      ring.push(recs);
      const now = Date.now();
      const last = this._requested[msg.type] ?? 0;
      if (this.onGap && now - last >= REQUEST_FULL_RETRY_MS) {
        this._requested[msg.type] = now;
        this.onGap(gap);
      }
    }
    this._changed();
    return true;
  }

  /**
   * @param {() => void} cb called at most once per animation frame after changes
   * @returns {() => void} unsubscribe
   */
  subscribe(cb) {
    this._subs.add(cb);
    return () => {
      this._subs.delete(cb);
    };
  }

  _changed() {
    if (this._frozen) return; // panes draw the snapshot; nothing they see changed
    if (this._pending) return;
    this._pending = true;
    this._schedule(() => {
      this._pending = false;
      this._notifyNow();
    });
  }

  _notifyNow() {
    for (const cb of [...this._subs]) {
      try {
        cb();
      } catch (e) {
        console.error("taskscope: a pane failed to draw", e);
      }
    }
  }
}

/** @param {StoreOptions} [opts] */
export function createStore(opts) {
  return new Store(opts);
}
