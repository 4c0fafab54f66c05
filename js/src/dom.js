/** Tiny DOM helpers shared by the panes (no framework). */

/**
 * Create an element. `attrs` keys: `class`, `text`, `title`, `style` (object),
 * `dataset` (object), `on<event>` (listener), anything else -> setAttribute.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {Array<Node | string | null | undefined | false>} [children]
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, children = []) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = String(v);
    else if (k === "style") Object.assign(el.style, v);
    else if (k === "dataset") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c == null || c === false) continue;
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return el;
}

/**
 * Set textContent only when it changed (keeps selections and avoids layout).
 * @param {Element} el @param {any} text
 */
export function setText(el, text) {
  const s = String(text);
  if (el.textContent !== s) el.textContent = s;
}

/**
 * Set a data-* attribute only when it changed.
 * @param {HTMLElement} el @param {string} key camelCase @param {any} value
 */
export function setData(el, key, value) {
  const s = value == null ? "" : String(value);
  if (el.dataset[key] !== s) el.dataset[key] = s;
}

/**
 * Keyed list reconciliation: keep one element per key, create missing ones,
 * remove stale ones, and order children like `items`.
 * @template T
 * @param {HTMLElement} parent
 * @param {Map<any, HTMLElement>} cache
 * @param {T[]} items
 * @param {(item: T) => any} key
 * @param {(item: T) => HTMLElement} create
 * @param {(el: HTMLElement, item: T) => void} update
 * @param {Node | null} [after] keep this child (e.g. a <thead>) before the items
 */
export function reconcile(parent, cache, items, key, create, update, after = null) {
  const seen = new Set();
  /** @type {HTMLElement | null} */
  let prev = null;
  for (const item of items) {
    const k = key(item);
    seen.add(k);
    let el = cache.get(k);
    if (!el) {
      el = create(item);
      cache.set(k, el);
    }
    update(el, item);
    /** @type {ChildNode | null} */
    const want = prev ? prev.nextSibling : after ? after.nextSibling : parent.firstChild;
    if (want !== el) parent.insertBefore(el, want);
    prev = el;
  }
  for (const [k, el] of cache) {
    if (!seen.has(k)) {
      el.remove();
      cache.delete(k);
    }
  }
}

/**
 * A canvas sized to its CSS box at devicePixelRatio; returns the context with
 * the transform set so drawing uses CSS pixels.
 * @param {HTMLCanvasElement} canvas @param {number} width @param {number} height
 */
export function fitCanvas(canvas, width, height) {
  const dpr = (typeof devicePixelRatio === "number" && devicePixelRatio) || 1;
  const W = Math.max(1, Math.round(width * dpr));
  const H = Math.max(1, Math.round(height * dpr));
  if (canvas.width !== W) canvas.width = W;
  if (canvas.height !== H) canvas.height = H;
  canvas.style.width = width + "px";
  canvas.style.height = height + "px";
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/**
 * Observe an element's width; calls cb on change (ResizeObserver when
 * available). Returns a disconnect function.
 * @param {Element} el @param {(width: number) => void} cb
 */
export function onResize(el, cb) {
  if (typeof ResizeObserver === "undefined") return () => {};
  let last = -1;
  const ro = new ResizeObserver((entries) => {
    const w = Math.floor(entries[0].contentRect.width);
    if (w !== last) {
      last = w;
      cb(w);
    }
  });
  ro.observe(el);
  return () => ro.disconnect();
}

/**
 * A pane shell: <section class="ts-pane" data-pane=name> with a title bar.
 * @param {HTMLElement} el container to mount into
 * @param {string} name
 * @param {string} title
 */
export function paneShell(el, name, title) {
  const titleText = h("span", { class: "ts-pane-title-text", text: title });
  const extra = h("span", { class: "ts-pane-title-extra" });
  const head = h("header", { class: "ts-pane-head" }, [titleText, extra]);
  const body = h("div", { class: "ts-pane-body" });
  const root = h("section", { class: `ts-pane ts-pane-${name}`, dataset: { pane: name } }, [head, body]);
  el.append(root);
  return { root, head, titleText, extra, body };
}

/**
 * Draw a pane now and whenever the store changes; the handle's destroy() stops
 * that and removes the pane.
 * @param {{root: HTMLElement}} shell
 * @param {{subscribe: (fn: () => void) => () => void}} store
 * @param {() => void} draw
 * @returns {{destroy(): void}}
 */
export function livePane(shell, store, draw) {
  draw();
  const unsub = store.subscribe(draw);
  return {
    destroy() {
      unsub();
      shell.root.remove();
    },
  };
}

/**
 * `draw` at the next animation frame, once however often the returned
 * function is called before then (setTimeout where there are no frames).
 * @param {() => void} draw
 * @returns {{request: () => void, cancel: () => void}}
 */
export function frameScheduler(draw) {
  /** @type {any} */
  let pending = 0;
  const hasRaf = typeof requestAnimationFrame === "function";
  return {
    request() {
      if (pending) return;
      const run = () => {
        pending = 0;
        draw();
      };
      pending = hasRaf ? requestAnimationFrame(run) : setTimeout(run, 16);
    },
    cancel() {
      if (pending) (hasRaf ? cancelAnimationFrame : clearTimeout)(pending);
      pending = 0;
    },
  };
}
