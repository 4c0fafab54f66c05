/**
 * Colours. `color` fields in the State are indices into PALETTE (round-robin,
 * like Dask's task groups). The hues are mid-luminance so they read on both
 * white and near-black backgrounds; lighter shades for "processing" and
 * "queued" are made with alpha, which also works on either background.
 */

/** A categorical palette (Tableau-like, without the grey used for "cancelled"). */
export const PALETTE = [
  "#4e79a7", // blue
  "#f28e2b", // orange
  "#59a14f", // green
  "#e15759", // red
  "#76b7b2", // teal
  "#edc948", // yellow
  "#b07aa1", // purple
  "#ff9da7", // pink
  "#9c755f", // brown
  "#2f9bd6", // sky
  "#a0cb3c", // lime
  "#d37295", // rose
];

/** Erred tasks are black, as in Dask; panes outline them so they show in dark themes. */
export const ERRED = "#111111";
export const ERRED_OUTLINE = "#e5484d";
export const CANCELLED = "#9e9e9e";
/** A Dask cluster's transfers (red, as Dask draws them), disk reads/writes, deserialisation. */
export const TRANSFER = "#d62728";
export const DISK = "#ff7f0e";
export const DESERIALIZE = "#bcbd22";

/** Status colours (dots, pills). */
export const STATUS = {
  starting: "#8e8ce0",
  idle: "#9e9e9e",
  busy: "#30a46c",
  running: "#2f80ed",
  done: "#30a46c",
  closed: "#6e7781",
  exited: "#6e7781",
  died: "#e5484d",
  broken: "#e5484d",
  erred: "#e5484d",
  interrupted: "#f5a524",
  cancelled: "#9e9e9e",
  disconnected: "#f5a524",
};

/**
 * @param {number | null | undefined} i palette index
 * @returns {string} hex colour
 */
export function color(i) {
  if (i == null || !Number.isFinite(i) || i < 0) return PALETTE[0];
  return PALETTE[Math.floor(i) % PALETTE.length];
}

/**
 * `#rrggbb` + alpha -> `rgba(...)`.
 * @param {string} hex @param {number} a
 */
export function alpha(hex, a) {
  const h = hex.replace("#", "");
  const n = parseInt(h.length === 3 ? h.replace(/(.)/g, "$1$1") : h, 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

/** @param {string} s */
export function statusColor(s) {
  return /** @type {Record<string, string>} */ (STATUS)[s] ?? "#9e9e9e";
}

/**
 * Colour of a task-stream rectangle from its record fields.
 * @param {number} colorIndex @param {number} flags bit 0 erred, bit 1 cancelled, 2 transfer,
 * 3 disk, 4 deserialize
 */
export function rectColor(colorIndex, flags) {
  if (flags & 1) return ERRED;
  if (flags & 2) return CANCELLED;
  if (flags & 4) return TRANSFER;
  if (flags & 8) return DISK;
  if (flags & 16) return DESERIALIZE;
  return color(colorIndex);
}
