/**
 * A deterministic, rich fixture: 3 calls, 2 functions, 4 workers, 2 errors
 * with tracebacks, 100,000 task-stream records and 600 resource samples.
 * Runs in node (dev/make-fixture.mjs writes test/fixtures/state.json) and in
 * the browser (dev/harness.js).
 */

/** @param {number} seed */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const T0 = 1000; // pool start (monotonic seconds)
const SPAN = 300; // seconds of history
const MiB = 1024 * 1024;

const TB1 = `Traceback (most recent call last):
  File "/opt/taskscope/pool/worker.py", line 212, in _run_chunk
    result = fn(*args)
             ^^^^^^^^^
  File "/home/ana/work/images.ipynb", line 14, in load_image
    raise ValueError(f"bad value {x}")
ValueError: bad value 13`;

const TB2 = `Traceback (most recent call last):
  File "/opt/taskscope/pool/worker.py", line 212, in _run_chunk
    result = fn(*args)
             ^^^^^^^^^
  File "/home/ana/work/images.ipynb", line 17, in load_image
    meta = index[key]
           ~~~~~^^^^^
KeyError: 'tile_0412'`;

/**
 * @param {{nStream?: number, nResources?: number}} [opts]
 */
export function makeFixture(opts = {}) {
  const nStream = opts.nStream ?? 100_000;
  const nRes = opts.nResources ?? 600;
  const rnd = mulberry32(42);
  const now = T0 + SPAN;
  const nW = 4;

  // ── task stream: each worker runs chunks back to back, tiny idle gaps ──
  /** @type {number[][]} */
  const per = [];
  const perWorker = Math.ceil(nStream / nW);
  const meanDur = (SPAN - 1) / perWorker / 1.02;
  for (let w = 0; w < nW; w++) {
    const recs = [];
    let t = T0 + 0.4 + w * 0.05;
    while (t < T0 + SPAN + 5) {
      const frac = (t - T0) / SPAN;
      // call 1 (square) for the first 40%, then call 2 (load_image) mixed with call 3 (square)
      const ci = frac < 0.4 ? 0 : rnd() < 0.7 ? 1 : 0;
      const dur = meanDur * (ci === 1 ? 1.25 : 0.6) * (0.3 + rnd() * 1.4) * (rnd() < 0.002 ? 12 : 1);
      const gap = meanDur * 0.04 * rnd() + (rnd() < 0.001 ? 0.4 : 0);
      const start = t + gap;
      const end = start + dur;
      recs.push([start, end, w, ci, ci === 1 ? 1 : 4, 0]);
      t = end;
    }
    per.push(recs);
  }
  let all = per.flat().sort((a, b) => a[1] - b[1]);
  const generated = all.length;
  all = all.slice(all.length - nStream);
  // squeeze into [T0, now]
  const last = all[all.length - 1][1];
  const k = (now - 0.3 - T0) / (last - T0);
  for (const r of all) {
    r[0] = T0 + (r[0] - T0) * k;
    r[1] = T0 + (r[1] - T0) * k;
  }
  // two erred chunks and some cancelled at the end of call 2
  const errIdx = [Math.floor(nStream * 0.62), Math.floor(nStream * 0.81)];
  for (const i of errIdx) {
    all[i][5] = 1;
    all[i][3] = 1;
  }
  for (let i = nStream - 40; i < nStream - 25; i++) all[i][5] = 2;
  const stream = new Float64Array(nStream * 6);
  all.forEach((r, i) => stream.set(r, i * 6));

  // ── resources: 600 samples over the span ──
  const resources = new Float64Array(nRes * 5);
  for (let i = 0; i < nRes; i++) {
    const t = T0 + ((i + 1) * SPAN) / nRes;
    const f = i / nRes;
    const ramp = Math.min(1, i / 12);
    const cpu = ramp * (360 + 30 * Math.sin(i / 9) + 20 * (rnd() - 0.5)) * (f > 0.39 && f < 0.42 ? 0.55 : 1);
    const managed = (f < 0.4 ? 40 * f : 16 + 180 * (f - 0.4)) * MiB * ramp;
    const rss = (4 * 48 + 60 * f + 8 * Math.sin(i / 25)) * MiB + managed * 1.1;
    const tps = ramp * (f < 0.4 ? 420 : 300) * (0.9 + 0.2 * rnd()) * (f > 0.39 && f < 0.42 ? 0.4 : 1);
    resources.set([t, cpu, rss, tps, managed], i * 5);
  }

  const counts = (/** @type {Record<string, number>} */ c) => ({ waiting: 0, queued: 0, processing: 0, memory: 0, erred: 0, cancelled: 0, released: 0, ...c });
  const c1 = counts({ released: 40000 });
  const c2 = counts({ released: 31240, memory: 1480, processing: 4, queued: 1261, erred: 2, cancelled: 15 });
  const c3 = counts({ released: 12000, memory: 2400, processing: 4, queued: 96 });
  /** @param {...Record<string, number>} cs */
  const sum = (...cs) => {
    /** @type {Record<string, number>} */
    const o = {};
    for (const c of cs) for (const [key, v] of Object.entries(c)) o[key] = (o[key] ?? 0) + v;
    return o;
  };
  const fnSquare = sum(c1, c3);
  const fnLoad = c2;
  const subm = (/** @type {Record<string, number>} */ c) => Object.values(c).reduce((a, b) => a + b, 0);

  const state = {
    v: [1, 0],
    seq: 731204,
    gaps: 0,
    now,
    pool: { id: "3f9a1c2e7b5d4a60", name: "pool-1", pid: 4242, status: "running", n_workers: nW, started: T0, ended: null, memory_limit: 512 * MiB },
    totals: { submitted: subm(c1) + subm(c2) + subm(c3), done: 40000 + 31240 + 1480 + 12000 + 2400, erred: 2, cancelled: 15 },
    calls: [
      {
        id: 1, api: "map", fn: "square", module: "__main__", file: "/home/ana/work/images.ipynb", line: 3,
        callsite: { file: "<ipython-input-4-1b2c>", line: 2, function: "<module>", code: "squares = pool.map(square, range(40_000), chunksize=4)" },
        total: 40000, counts: c1, submitted: 40000, started: T0 + 0.3, ended: T0 + 120.2, rate: 0, eta: null, color: 0, status: "done",
      },
      {
        id: 2, api: "imap_unordered", fn: "load_image", module: "__main__", file: "/home/ana/work/images.ipynb", line: 9,
        callsite: { file: "<ipython-input-5-77af>", line: 3, function: "<module>", code: "for img in pool.imap_unordered(load_image, paths):" },
        total: 34002, counts: c2, submitted: 34002, started: T0 + 120.5, ended: null, rate: 181.6, eta: 7.0, color: 1, status: "running",
      },
      {
        id: 3, api: "submit", fn: "square", module: "__main__", file: "/home/ana/work/images.ipynb", line: 3,
        callsite: { file: "<ipython-input-6-0c91>", line: 1, function: "<module>", code: "futs = [pool.submit(square, x) for x in stream_of_numbers()]" },
        total: null, counts: c3, submitted: subm(c3), started: T0 + 121.0, ended: null, rate: 77.4, eta: null, color: 0, status: "running",
      },
    ],
    functions: [
      { key: "__main__.square", name: "square", color: 0, counts: fnSquare, submitted: subm(fnSquare), time: 61.8 },
      { key: "__main__.load_image", name: "load_image", color: 1, counts: fnLoad, submitted: subm(fnLoad), time: 702.4 },
    ],
    workers: [0, 1, 2, 3].map((id) => {
      const rss = [212, 305, 171, 489][id] * MiB;
      const managed = [38, 120, 12, 262][id] * MiB;
      const working = [281.2, 276.9, 240.3, 284.0][id];
      const waiting = [14.1, 18.3, 55.9, 11.6][id];
      return {
        id, pid: 4250 + id,
        status: ["busy", "busy", "idle", "busy"][id],
        current: ["load_image", "square", null, "load_image"][id],
        tasks_done: [24890, 22731, 16412, 22863][id],
        cpu: [98.4, 97.1, 0.8, 99.2][id], rss, managed, memory_limit: null,
        insights: { startup: 0.052 + id * 0.004, init: 0.31, waiting, working, exit: 0 },
        utilisation: working / (working + waiting),
        longest: [
          { fn: "load_image", duration: 0.412 - id * 0.03, arg: `'/data/tiles/tile_${1204 + id}.tif'` },
          { fn: "load_image", duration: 0.365 - id * 0.02, arg: `'/data/tiles/tile_${877 + id}.tif'` },
          { fn: "square", duration: 0.121, arg: `${31337 + id}` },
        ],
        started: T0 + 0.05 + id * 0.01, ended: null, exitcode: null, signal: null,
      };
    }),
    errors: [
      { id: 1, call: 2, fn: "load_image", worker: 1, pid: 4251, exc_type: "ValueError", message: "bad value 13", arg: "13", traceback: TB1, ts: T0 + 186.2 },
      { id: 2, call: 2, fn: "load_image", worker: 3, pid: 4253, exc_type: "KeyError", message: "'tile_0412'", arg: "'/data/tiles/tile_0412.tif'", traceback: TB2, ts: T0 + 243.9 },
    ],
    errors_total: 2,
    stream_total: generated,
    resources_total: nRes,
  };
  return { state, stream, resources };
}
