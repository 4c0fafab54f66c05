/**
 * Pure drawing math for the task stream (no DOM): time <-> x mapping, nice
 * ticks, the live window, zoom/pan, and culling + sub-pixel merging of
 * rectangles per lane. Tested in test/stream-math.test.js.
 */

/** Two rectangles closer than this (CSS px) in one lane draw as one. */
export const MERGE_GAP_PX = 0.5;
/** Rectangles are drawn at least this wide (CSS px) so one short task shows. */
export const MIN_RECT_PX = 1;
/**
 * Touching tasks of one colour merge only while one of them is narrower than
 * this (CSS px): wider ones stay apart, and are drawn with a 1 px gap, so a
 * busy worker's run of chunks shows as chunks rather than one bar.
 */
export const SPLIT_PX = 4;
/** Key used for erred / cancelled rectangles instead of a palette index. */
export const KEY_ERRED = -1;
export const KEY_CANCELLED = -2;
/** Dask's non-compute bars (a watched cluster): flags bit 2 transfer, 3 disk, 4 deserialize. */
export const KEY_TRANSFER = -3;
export const KEY_DISK = -4;
export const KEY_DESERIALIZE = -5;

/**
 * @typedef {{t0: number, t1: number}} Window  seconds, monotonic clock
 * @typedef {import("./ring.js").Ring} Ring
 */

/**
 * @param {number} t @param {number} t0 @param {number} t1 @param {number} x0 @param {number} width
 */
export function timeToX(t, t0, t1, x0, width) {
  return x0 + ((t - t0) * width) / (t1 - t0 || 1);
}

/**
 * @param {number} x @param {number} t0 @param {number} t1 @param {number} x0 @param {number} width
 */
export function xToTime(x, t0, t1, x0, width) {
  return t0 + ((x - x0) * (t1 - t0)) / (width || 1);
}

/**
 * A 1/2/5 x 10^k step giving at most `maxTicks` ticks over `span`.
 * @param {number} span @param {number} maxTicks
 */
export function niceStep(span, maxTicks) {
  if (!(span > 0) || !(maxTicks >= 1)) return 1;
  const raw = span / maxTicks;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) {
    if (m * p >= raw - 1e-12 * p) return m * p;
  }
  return 10 * p;
}

/**
 * Tick values (multiples of a nice step, relative to `origin`) inside [t0, t1].
 * @param {number} t0 @param {number} t1 @param {number} maxTicks @param {number} [origin]
 * @returns {{step: number, values: number[]}} values are absolute times
 */
export function ticks(t0, t1, maxTicks, origin = 0) {
  const step = niceStep(t1 - t0, maxTicks);
  const values = [];
  const k0 = Math.ceil((t0 - origin) / step - 1e-9);
  const k1 = Math.floor((t1 - origin) / step + 1e-9);
  for (let k = k0; k <= k1 && values.length < 1000; k++) values.push(origin + k * step);
  return { step, values };
}

/**
 * The default view: the last `n` rectangles, following the live edge (`now`).
 * @param {Ring} ring @param {number} n @param {number} now
 * @returns {Window}
 */
export function liveWindow(ring, n, now) {
  const len = ring.length;
  if (len === 0) {
    const t1 = Number.isFinite(now) ? now : 0;
    return { t0: t1 - 10, t1 };
  }
  const from = Math.max(0, len - n);
  let lo = Infinity;
  let hi = -Infinity;
  const d = ring.data;
  for (let i = from; i < len; i++) {
    const o = ring.offset(i);
    if (d[o] < lo) lo = d[o];
    if (d[o + 1] > hi) hi = d[o + 1];
  }
  if (Number.isFinite(now) && now > hi) hi = now;
  if (!(hi > lo)) hi = lo + 1;
  return { t0: lo, t1: hi + (hi - lo) * 0.01 };
}

/**
 * Zoom around a pivot time: factor < 1 zooms in.
 * @param {Window} w @param {number} pivot @param {number} factor
 * @param {number} [minSpan] seconds
 * @returns {Window}
 */
export function zoomWindow(w, pivot, factor, minSpan = 1e-6) {
  const span = Math.max(minSpan, (w.t1 - w.t0) * factor);
  const f = (pivot - w.t0) / (w.t1 - w.t0 || 1);
  const t0 = pivot - f * span;
  return { t0, t1: t0 + span };
}

/**
 * @param {Window} w @param {number} dt seconds
 * @returns {Window}
 */
export function panWindow(w, dt) {
  return { t0: w.t0 + dt, t1: w.t1 + dt };
}

/** Growable typed buffers for the rectangles to draw (reused across frames). */
export class RectBuffer {
  constructor(capacity = 4096) {
    this.n = 0;
    this.x0 = new Float64Array(capacity);
    this.x1 = new Float64Array(capacity);
    this.lane = new Int32Array(capacity);
    this.key = new Int32Array(capacity);
    /** records inside the time range before merging */
    this.visible = 0;
  }

  _grow() {
    const c = this.x0.length * 2;
    const g = (/** @type {any} */ a, /** @type {any} */ C) => {
      const b = new C(c);
      b.set(a);
      return b;
    };
    this.x0 = g(this.x0, Float64Array);
    this.x1 = g(this.x1, Float64Array);
    this.lane = g(this.lane, Int32Array);
    this.key = g(this.key, Int32Array);
  }

  /** @param {number} x0 @param {number} x1 @param {number} lane @param {number} key */
  add(x0, x1, lane, key) {
    if (this.n === this.x0.length) this._grow();
    const i = this.n++;
    if (x1 - x0 < MIN_RECT_PX) x1 = x0 + MIN_RECT_PX;
    this.x0[i] = x0;
    this.x1[i] = x1;
    this.lane[i] = lane;
    this.key[i] = key;
  }
}

/**
 * Map worker ids to lane indices (-1 = not shown).
 * @param {number[]} workerIds in display order
 * @returns {Int32Array}
 */
export function laneMap(workerIds) {
  let max = -1;
  for (const id of workerIds) if (id > max) max = id;
  const m = new Int32Array(Math.max(0, max + 1)).fill(-1);
  workerIds.forEach((id, lane) => {
    if (id >= 0) m[id] = lane;
  });
  return m;
}

/**
 * Cull records to [t0, t1] and merge, per lane, rectangles that overlap or
 * touch within MERGE_GAP_PX when they have the same colour and one of the two
 * is narrower than SPLIT_PX, or while the rectangle being built is still
 * narrower than a pixel. A run of sub-pixel
 * tasks of mixed colours thus becomes ~1 px slices sampling the mix (instead
 * of one long bar of one colour). Erred wins a merge so failures stay visible.
 * Output size is bounded by about lanes x width, whatever the number of records.
 *
 * @param {Ring} ring  stream ring (6 floats: start, end, worker, color, count, flags)
 * @param {Int32Array} lanes  worker id -> lane (from laneMap)
 * @param {Window} win
 * @param {number} x0  left of the plot area (CSS px)
 * @param {number} width  plot width (CSS px)
 * @param {RectBuffer} out  reset and filled
 */
export function buildRects(ring, lanes, win, x0, width, out) {
  out.n = 0;
  out.visible = 0;
  const nl = lanes.length;
  let nLanes = 0;
  for (let i = 0; i < nl; i++) if (lanes[i] + 1 > nLanes) nLanes = lanes[i] + 1;
  if (nLanes === 0 || !(width > 0)) return out;
  const pA = new Float64Array(nLanes);
  const pB = new Float64Array(nLanes);
  const pK = new Int32Array(nLanes);
  const on = new Uint8Array(nLanes);
  const t0 = win.t0;
  const t1 = win.t1;
  const scale = width / (t1 - t0 || 1);
  const left = x0 - 2;
  const right = x0 + width + 2;
  const d = ring.data;
  const w = ring.width;
  let visible = 0;
  for (const [s, e] of ring.spans()) {
    for (let o = s; o < e; o += w) {
      const start = d[o];
      const end = d[o + 1];
      if (end < t0 || start > t1) continue;
      const wid = d[o + 2];
      if (wid < 0 || wid >= nl) continue;
      const lane = lanes[wid];
      if (lane < 0) continue;
      visible++;
      const flags = d[o + 5];
      // Inline: this loop runs for every record in view, every frame.
      const key = flags & 1 ? KEY_ERRED : flags & 2 ? KEY_CANCELLED
        : flags & 28 ? (flags & 4 ? KEY_TRANSFER : flags & 8 ? KEY_DISK : KEY_DESERIALIZE) : d[o + 3];
      let a = x0 + (start - t0) * scale;
      let b = x0 + (end - t0) * scale;
      if (a < left) a = left;
      if (b > right) b = right;
      if (on[lane]) {
        const pa = pA[lane];
        const pb = pB[lane];
        if (a <= pb + MERGE_GAP_PX && b >= pa - MERGE_GAP_PX) {
          const pk = pK[lane];
          if ((key === pk && (pb - pa < SPLIT_PX || b - a < SPLIT_PX)) || pb - pa < 1) {
            if (key !== pk) {
              if (key === KEY_ERRED) pK[lane] = key;
              else if (pk !== KEY_ERRED && b - a > pb - pa) pK[lane] = key;
            }
            if (a < pa) pA[lane] = a;
            if (b > pb) pB[lane] = b;
            continue;
          }
        }
        out.add(pa, pb, lane, pK[lane]);
      }
      on[lane] = 1;
      pA[lane] = a;
      pB[lane] = b;
      pK[lane] = key;
    }
  }
  for (let l = 0; l < nLanes; l++) if (on[l]) out.add(pA[l], pB[l], l, pK[l]);
  out.visible = visible;
  return out;
}

/**
 * The record under the pointer: newest record in `lane` whose [start, end]
 * (widened by `tol` seconds) contains t. Returns its logical index or -1.
 * @param {Ring} ring @param {Int32Array} lanes @param {number} lane @param {number} t @param {number} tol
 */
export function hitTest(ring, lanes, lane, t, tol) {
  const d = ring.data;
  let best = -1;
  let bestDist = Infinity;
  for (let i = ring.length - 1; i >= 0; i--) {
    const o = ring.offset(i);
    const wid = d[o + 2];
    if (wid < 0 || wid >= lanes.length || lanes[wid] !== lane) continue;
    const s = d[o];
    const e = d[o + 1];
    if (t >= s - tol && t <= e + tol) {
      const dist = t < s ? s - t : t > e ? t - e : 0;
      if (dist === 0) return i;
      if (dist < bestDist) {
        bestDist = dist;
        best = i;
      }
    }
  }
  return best;
}
