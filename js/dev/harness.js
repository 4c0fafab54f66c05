// Throw-away harness: mounts the dashboard with the rich fixture.
//   ?mode=dashboard (src modules) | widget (built bundle + fake anywidget model) | compact
//   ?theme=light | dark | auto    ?panes=progress,memory    ?live=1 (animate)
import { makeFixture } from "./fixture.js";
import { createStore } from "../src/store.js";
import { mountDashboard } from "../src/dashboard.js";

const q = new URLSearchParams(location.search);
const theme = q.get("theme") ?? "light";
if (theme !== "auto") document.body.classList.add(theme === "dark" ? "jl-dark" : "jl-light");
const app = /** @type {HTMLElement} */ (document.getElementById("app"));
const fx = makeFixture();
const panes = (q.get("panes") ?? "").split(",").filter(Boolean);

/** A minimal stand-in for anywidget's model proxy. */
function fakeModel(/** @type {Record<string, any>} */ traits) {
  /** @type {Record<string, Array<(...a: any[]) => void>>} */
  const on = {};
  const sent = [];
  return {
    sent,
    get: (/** @type {string} */ k) => traits[k],
    set: (/** @type {string} */ k, /** @type {any} */ v) => { traits[k] = v; (on["change:" + k] ?? []).forEach((cb) => cb()); },
    save_changes() {},
    send: (/** @type {any} */ m) => { sent.push(m); },
    on: (/** @type {string} */ n, /** @type {any} */ cb) => { (on[n] ??= []).push(cb); },
    off: (/** @type {string} */ n, /** @type {any} */ cb) => { on[n] = (on[n] ?? []).filter((x) => x !== cb); },
    emit: (/** @type {string} */ n, /** @type {any[]} */ ...a) => (on[n] ?? []).forEach((cb) => cb(...a)),
  };
}

async function main() {
  const mode = q.get("mode") ?? "dashboard";
  if (mode === "widget" || mode === "compact") {
    const mod = await import("/kernel_ext/static/widget.js");
    const widget = mod.default;
    const model = fakeModel({ state: fx.state, panes, call: mode === "compact" ? 2 : null, popout_url: "/taskscope/pools/3f9a/", frozen: false });
    widget.initialize({ model });
    // deltas arrive as DataView buffers, like ipywidgets delivers them
    model.emit("msg:custom", { type: "stream", reset: true, first: 0 }, [new DataView(fx.stream.buffer)]);
    model.emit("msg:custom", { type: "resources", reset: true, first: 0 }, [new DataView(fx.resources.buffer)]);
    if (mode === "compact") {
      for (const id of [1, 2, 3]) {
        const m2 = fakeModel({ ...model, state: fx.state, panes: [], call: id, popout_url: "", frozen: false });
        const cell = document.createElement("div");
        cell.className = "cell";
        cell.innerHTML = `<pre>In [${id + 3}]: ${fx.state.calls[id - 1].callsite.code}</pre>`;
        app.append(cell);
        const host = document.createElement("div");
        cell.append(host);
        widget.initialize({ model: m2 });
        widget.render({ model: m2, el: host });
      }
    } else {
      widget.render({ model, el: app });
    }
    window.__model = model;
  } else {
    const store = createStore();
    store.setState(fx.state);
    store.applyMessage({ type: "stream", reset: true, first: 0 }, [fx.stream.buffer]);
    store.applyMessage({ type: "resources", reset: true, first: 0 }, [fx.resources.buffer]);
    const dash = mountDashboard(app, store, { panes, popoutUrl: q.get("popout") ?? "/taskscope/pools/3f9a/" });
    window.__store = store;
    window.__dash = dash;
    if (q.get("live")) animate(store);
  }
  document.body.dataset.ready = "1";
}

/** Advance the fixture's clock to show live following (for manual looks). */
function animate(/** @type {any} */ store) {
  let first = fx.stream.length / 6;
  let t = fx.state.now;
  setInterval(() => {
    const n = 40;
    const a = new Float64Array(n * 6);
    for (let i = 0; i < n; i++) {
      const w = i % 4;
      const s = t + (i / n) * 0.1;
      a.set([s, s + 0.012, w, Math.random() < 0.7 ? 1 : 0, 1, 0], i * 6);
    }
    t += 0.1;
    store.applyMessage({ type: "stream", first }, [a]);
    first += n;
    store.setState({ ...store.state, now: t });
  }, 100);
}

/** Median frame time of a forced task-stream draw (ms). */
window.measureStreamFrame = (/** @type {number} */ runs = 20, flush = true) => {
  const h = window.__dash?.panes?.["task-stream"];
  if (!h?.redraw) return null;
  const canvas = /** @type {HTMLCanvasElement} */ (document.querySelector(".ts-stream-canvas"));
  const ctx = canvas.getContext("2d");
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    h.redraw();
    // reading a pixel forces the queued canvas commands to rasterise, so the
    // time includes the actual drawing, not only recording it
    if (flush) ctx?.getImageData(0, 0, 1, 1);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(runs / 2)], min: times[0], max: times[runs - 1], rects: Number(document.querySelector(".ts-stream-canvas")?.getAttribute("data-rects")) };
};

main().catch((e) => {
  document.body.dataset.error = String(e);
  console.error(e);
});
