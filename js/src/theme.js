/**
 * Canvas panes cannot use CSS variables directly: read the resolved theme
 * colours (style.css defines --ts-* from JupyterLab's --jp-* with fallbacks).
 */

/**
 * @typedef {object} Theme
 * @property {string} fg
 * @property {string} fg2
 * @property {string} fg3
 * @property {string} bg
 * @property {string} bg2
 * @property {string} grid
 * @property {string} border
 * @property {string} font
 * @property {string} mono
 * @property {boolean} dark
 */

/**
 * Perceived luminance (0..1) of a CSS colour string, or null.
 * @param {string} c
 */
export function luminance(c) {
  const m = c.match(/rgba?\(\s*([\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)/);
  let r, g, b;
  if (m) {
    r = +m[1]; g = +m[2]; b = +m[3];
  } else {
    const h = c.trim().replace("#", "");
    if (!/^[0-9a-f]{3,8}$/i.test(h)) return null;
    const full = h.length <= 4 ? h.slice(0, 3).replace(/(.)/g, "$1$1") : h.slice(0, 6);
    const n = parseInt(full, 16);
    r = (n >> 16) & 255; g = (n >> 8) & 255; b = n & 255;
  }
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

/**
 * @param {Element} el any element inside the .ts-root
 * @returns {Theme}
 */
export function readTheme(el) {
  const cs = getComputedStyle(el);
  const v = (/** @type {string} */ name, /** @type {string} */ dflt) => cs.getPropertyValue(name).trim() || dflt;
  const bg = v("--ts-bg", "#ffffff");
  const fg = v("--ts-fg", "rgba(0,0,0,0.87)");
  const lum = luminance(bg);
  return {
    fg,
    fg2: v("--ts-fg2", "rgba(0,0,0,0.54)"),
    fg3: v("--ts-fg3", "rgba(0,0,0,0.38)"),
    bg,
    bg2: v("--ts-bg2", "#f5f5f5"),
    grid: v("--ts-grid", "rgba(0,0,0,0.08)"),
    border: v("--ts-border", "#e0e0e0"),
    font: v("--ts-font", "system-ui, sans-serif"),
    mono: v("--ts-mono", "monospace"),
    dark: lum != null ? lum < 0.45 : false,
  };
}
