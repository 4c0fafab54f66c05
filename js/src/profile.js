/**
 * The profile pane: where the workers' time went, from their stack samples (Dask's
 * profile page). A picker (all calls, one function's calls, one call), a flame graph
 * (an icicle: the task's function on top, what it called below, widths = share of
 * samples; click a frame to zoom into it, click the top bar to zoom out), and the
 * hottest frames as text: function, file:line, own and total share of samples.
 *
 *   ┌ PROFILE ─────────────────────────────── 1,234 samples · every 10 ms ┐
 *   │ [#3 outer ▾]                                                          │
 *   │ ████████████████████ all ████████████████████████████████████████████ │
 *   │ ███████████████ outer ███████████████████████████████ ██ other ██     │
 *   │ ██████ helper ██████████████ ███ inner ███                            │
 *   │ function     file:line            own    total                        │
 *   │ helper       nb.py:12             62 %   70 %                         │
 *   └───────────────────────────────────────────────────────────────────────┘
 */
import { h, livePane, paneShell, setData, setText } from "./dom.js";
import { alpha, color } from "./colors.js";
import * as fmt from "./format.js";
import { choices, find, hottest, layout, nameHash, shortFile, treeOf } from "./profile-math.js";

/** @typedef {import("./store.js").Store} Store */

const ROW_PX = 18; // one frame per row: readable 12 px text with a gap
const MAX_ROWS = 30; // deeper stacks are cut (their samples stay in the parents' widths)
const HOT_ROWS = 10;

/** @param {HTMLElement} el @param {Store} store @param {object} [_options] */
export function mount(el, store, _options = {}) {
  const shell = paneShell(el, "profile", "Profile");
  const pick = /** @type {HTMLSelectElement} */ (h("select", { class: "ts-select", dataset: { role: "pick" }, title: "Whose samples to show" }));
  const zoomOut = h("button", { class: "ts-btn ts-btn-small", type: "button", hidden: true, dataset: { action: "zoom-out" } }, ["Zoom out"]);
  const zoomLabel = h("span", { class: "ts-flame-zoom" });
  const tools = h("div", { class: "ts-flame-tools" }, [pick, zoomOut, zoomLabel]);
  const flame = h("div", { class: "ts-flame", dataset: { role: "flame" } });
  const hotBody = h("tbody");
  const hot = h("table", { class: "ts-table ts-hot", dataset: { role: "hottest" } }, [
    h("thead", {}, [h("tr", {}, [h("th", { text: "hottest function" }), h("th", { text: "file:line" }), h("th", { class: "ts-num", text: "own", title: "share of samples in which this function itself was running" }), h("th", { class: "ts-num", text: "total", title: "share of samples in which it was on the stack (running or calling)" })])]),
    hotBody,
  ]);
  const empty = h("div", { class: "ts-empty" });
  shell.body.append(empty, tools, flame, hot);

  let chosen = "all";
  let zoom = ""; // path of the zoomed-into frame ("" = the root)
  let drawnKey = "";
  pick.addEventListener("change", () => {
    chosen = pick.value;
    zoom = "";
    draw();
  });
  zoomOut.addEventListener("click", () => {
    zoom = "";
    draw();
  });
  flame.addEventListener("click", (ev) => {
    const box = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (ev.target).closest(".ts-flame-box"));
    if (!box) return;
    zoom = box.dataset.depth === "0" ? "" : (box.dataset.path ?? "");
    draw();
  });

  function draw() {
    const st = store.view().state ?? {};
    const profile = st.profile;
    const calls = profile?.calls ?? [];
    const on = Boolean(st.pool?.profile);
    const has = calls.some((/** @type {any} */ c) => c.samples > 0);
    empty.hidden = has;
    tools.hidden = flame.hidden = hot.hidden = !has;
    setData(shell.root, "profiling", on ? 1 : 0);
    if (!has) {
      setText(empty, on || calls.length ? "No samples yet: a running task is sampled every 10 ms." : "Profiling is off: create the pool with Pool(profile=True) to see where its tasks spend their time.");
      setText(shell.extra, "");
      setData(shell.root, "samples", 0);
      return;
    }
    const opts = choices(profile);
    if (!opts.some((o) => o.id === chosen)) chosen = "all";
    const optKey = opts.map((o) => o.id + o.label).join("|");
    if (pick.dataset.key !== optKey) {
      pick.dataset.key = optKey;
      pick.replaceChildren(...opts.map((o) => h("option", { value: o.id, text: o.label })));
    }
    pick.value = chosen;
    const sel = /** @type {{calls: number[]}} */ (opts.find((o) => o.id === chosen));
    const key = `${chosen}|${zoom}|${calls.map((/** @type {any} */ c) => `${c.call}:${c.samples}`).join(",")}`;
    if (key === drawnKey) return;
    drawnKey = key;
    const files = profile.files ?? [];
    const root = treeOf(profile, sel.calls);
    const top = zoom ? find(root, zoom) : root;
    if (top === root) zoom = "";
    const interval = profile.interval ?? 0.01;
    setText(shell.extra, `${fmt.count(root.count)} samples · ${fmt.duration(root.count * interval)} of task time · every ${fmt.duration(interval)}`);
    setData(shell.root, "samples", root.count);
    setData(shell.root, "chosen", chosen);
    zoomOut.hidden = !zoom;
    setText(zoomLabel, zoom ? `${top.name}: ${fmt.percent(top.count / (root.count || 1))} of the samples` : "");
    drawFlame(top, root.count, files, top === root);
    // Zoomed into a frame: the table ranks it and what it called (under a stand-in root).
    drawHottest(top === root ? top : { ...top, name: "zoom", children: new Map([["top", top]]) }, files);
  }

  /**
   * @param {import("./profile-math.js").Tree} top @param {number} total
   * @param {string[]} files @param {boolean} isRoot
   */
  function drawFlame(top, total, files, isRoot) {
    const boxes = layout(top, 0.002, MAX_ROWS);
    let depth = 0;
    const els = boxes.map((b) => {
      depth = Math.max(depth, b.depth);
      const n = b.node;
      const file = files[n.file] ?? "";
      const share = n.count / (total || 1);
      const whole = b.depth === 0 && isRoot; // the samples of everything chosen
      const name = whole ? "all" : n.name;
      const c = whole ? "#8a8f98" : color(nameHash(n.name));
      return h("div", {
        class: "ts-flame-box",
        style: { left: `${(100 * b.x).toFixed(3)}%`, width: `${(100 * b.w).toFixed(3)}%`, top: `${b.depth * ROW_PX}px`, background: alpha(c, 0.85) },
        title: `${name}\n${file}${n.line ? `:${n.line}` : ""}\n${fmt.count(n.count)} samples (${fmt.percent(share)})`,
        dataset: { name, count: n.count, depth: b.depth, path: b.path, share: share.toFixed(4) },
      }, [h("span", { text: name })]);
    });
    flame.style.height = `${(depth + 1) * ROW_PX}px`;
    flame.replaceChildren(...els);
    setData(flame, "boxes", els.length);
  }

  /** @param {import("./profile-math.js").Tree} top @param {string[]} files */
  function drawHottest(top, files) {
    const total = top.count || 1;
    const rows = hottest(top, HOT_ROWS).map((r) => {
      const file = files[r.file] ?? "";
      return h("tr", { dataset: { name: r.name, self: r.self, total: r.total } }, [
        h("td", { class: "ts-hot-name", text: r.name }),
        h("td", { class: "ts-hot-file", text: `${shortFile(file)}:${r.line}`, title: `${file}:${r.line}` }),
        h("td", { class: "ts-num", text: fmt.percent(r.self / total) }),
        h("td", { class: "ts-num", text: fmt.percent(r.total / total) }),
      ]);
    });
    hotBody.replaceChildren(...rows);
  }

  return livePane(shell, store, draw);
}
