/**
 * Colours. `color` fields in the State are indices into PALETTE (round-robin,
 * like Dask's task groups). The hues are mid-luminance so they read on both
 * white and near-black backgrounds; lighter shades for "processing" and
 * "queued" are made with alpha, which also works on either background.
 */

import { THEME } from "./theme-data.js";

/** A categorical palette (Tableau-like, without the grey used for "cancelled"); from
 * kernel_ext/theme.json, which the static snapshot reads too. */
export const PALETTE = THEME.palette;

/** Erred tasks are black, as in Dask; panes outline them so they show in dark themes. */
export const ERRED = THEME.erred;
export const ERRED_OUTLINE = THEME.erred_outline;
export const CANCELLED = THEME.cancelled;
/** A Dask cluster's transfers (red, as Dask draws them), disk reads/writes, deserialisation. */
export const TRANSFER = THEME.transfer;
export const DISK = THEME.disk;
export const DESERIALIZE = THEME.deserialize;

/** Status colours (dots, pills). */
export const STATUS = THEME.status;

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
