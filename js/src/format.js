/**
 * All formatting of raw numbers (seconds, bytes, percent of one core) lives
 * here: the State carries raw values only (docs/state.md).
 */

/** U+202F NARROW NO-BREAK SPACE: a thin thousands separator that never wraps. */
export const THIN = "\u202f";
export const DASH = "—";

/** @param {any} x */
const bad = (x) => x == null || typeof x !== "number" || !Number.isFinite(x);

/**
 * 1234567 -> "1 234 567" (thin spaces).
 * @param {number | null | undefined} n
 */
export function count(n) {
  if (bad(n)) return DASH;
  const v = /** @type {number} */ (n);
  const s = Math.round(Math.abs(v)).toString().replace(/\B(?=(\d{3})+(?!\d))/g, THIN);
  return v < 0 ? "−" + s : s;
}

/**
 * @param {number} v @param {number} digits significant digits for small values
 */
function sig(v, digits = 3) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(Math.max(0, digits - 2));
  return v.toFixed(Math.max(0, digits - 1));
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * Binary units: 52428800 -> "50.0 MiB".
 * @param {number | null | undefined} b
 */
export function bytes(b) {
  if (bad(b)) return DASH;
  let v = /** @type {number} */ (b);
  const neg = v < 0;
  v = Math.abs(v);
  let u = 0;
  while (v >= 1024 && u < BYTE_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const s = u === 0 ? String(Math.round(v)) : sig(v);
  return (neg ? "−" : "") + s + " " + BYTE_UNITS[u];
}

/**
 * Human duration: 3.2e-4 -> "320 µs", 0.0123 -> "12.3 ms", 4.21 -> "4.21 s",
 * 185 -> "3m 05s", 3725 -> "1h 02m", 90000 -> "1d 01h".
 * @param {number | null | undefined} s seconds
 * @returns {string}
 */
export function duration(s) {
  if (bad(s)) return DASH;
  let v = /** @type {number} */ (s);
  if (v < 0) return "−" + duration(-v);
  if (v === 0) return "0 s";
  if (v < 1e-3) return sig(v * 1e6) + " µs";
  if (v < 1) return sig(v * 1e3) + " ms";
  if (v < 60) return sig(v) + " s";
  v = Math.round(v);
  const pad = (/** @type {number} */ x) => String(x).padStart(2, "0");
  if (v < 3600) return `${Math.floor(v / 60)}m ${pad(v % 60)}s`;
  if (v < 86400) return `${Math.floor(v / 3600)}h ${pad(Math.floor((v % 3600) / 60))}m`;
  return `${Math.floor(v / 86400)}d ${pad(Math.floor((v % 86400) / 3600))}h`;
}

/**
 * Clock-like elapsed time, tqdm style: 65.3 -> "01:05", 3725 -> "1:02:05".
 * @param {number | null | undefined} s
 */
export function clock(s) {
  if (bad(s)) return DASH;
  const v = Math.max(0, Math.floor(/** @type {number} */ (s)));
  const pad = (/** @type {number} */ x) => String(x).padStart(2, "0");
  const h = Math.floor(v / 3600);
  const m = Math.floor((v % 3600) / 60);
  return h > 0 ? `${h}:${pad(m)}:${pad(v % 60)}` : `${pad(m)}:${pad(v % 60)}`;
}

/**
 * Items per second: 812.5 -> "812/s", 12345 -> "12.3k/s", 0.25 -> "0.25/s".
 * @param {number | null | undefined} r
 * @param {string} [unit]
 */
export function rate(r, unit = "/s") {
  if (bad(r)) return DASH;
  const v = /** @type {number} */ (r);
  const a = Math.abs(v);
  if (a >= 1e9) return sig(v / 1e9) + "G" + unit;
  if (a >= 1e6) return sig(v / 1e6) + "M" + unit;
  if (a >= 1e4) return sig(v / 1e3) + "k" + unit;
  if (a >= 100) return v.toFixed(0) + unit;
  return sig(v) + unit;
}

/**
 * Time left: null -> "—", 0.02 -> "< 1 s", 185 -> "3m 05s".
 * @param {number | null | undefined} s
 */
export function eta(s) {
  if (bad(s)) return DASH;
  const v = /** @type {number} */ (s);
  if (v < 1) return "< 1 s";
  if (v < 60) return Math.round(v) + " s";
  return duration(v);
}

/**
 * A fraction as percent: 0.973 -> "97.3%", 1 -> "100%".
 * @param {number | null | undefined} f fraction (0..1)
 * @param {number} [digits]
 */
export function percent(f, digits = 1) {
  if (bad(f)) return DASH;
  const p = /** @type {number} */ (f) * 100;
  if (p >= 99.95 && p <= 100) return "100%";
  if (Math.abs(p) >= 100) return p.toFixed(0) + "%";
  return p.toFixed(digits) + "%";
}

/**
 * CPU is percent of one core already: 98.54 -> "98.5%", 250 -> "250%".
 * @param {number | null | undefined} p
 */
export function cpu(p) {
  if (bad(p)) return DASH;
  const v = /** @type {number} */ (p);
  return (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1)) + "%";
}

/**
 * Offset from a reference time: +12.3 s, +3m 05s.
 * @param {number | null | undefined} t
 * @param {number | null | undefined} t0
 */
export function relTime(t, t0) {
  if (bad(t) || bad(t0)) return DASH;
  const d = /** @type {number} */ (t) - /** @type {number} */ (t0);
  return (d < 0 ? "−" : "+") + duration(Math.abs(d));
}

/**
 * Axis tick label for a time offset in seconds, with a precision fitting the
 * tick step: (12, 5) -> "12s", (0.25, 0.05) -> "0.25s", (125, 60) -> "2:05".
 * @param {number} s @param {number} step
 */
export function tickLabel(s, step) {
  const neg = s < 0;
  const a = Math.abs(s);
  let out;
  if (step >= 60 || a >= 600) {
    out = clock(a);
  } else if (step >= 1) {
    out = Math.round(a) + "s";
  } else {
    const d = Math.min(6, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9)));
    if (step < 1e-3) out = (a * 1e3).toFixed(Math.max(0, d - 3)) + "ms";
    else out = a.toFixed(d) + "s";
  }
  return (neg && a > 0 ? "−" : "") + out;
}

/**
 * Plural-aware label: (1, "task") -> "1 task", (3, "task") -> "3 tasks".
 * @param {number} n @param {string} word @param {string} [plural]
 */
export function plural(n, word, plural) {
  return `${count(n)} ${n === 1 ? word : plural ?? word + "s"}`;
}
