// Bundle the front end into ../kernel_ext/static/:
//   widget.js + widget.css                  the dashboard anywidget (Dashboard)
//   progress-widget.js + progress-widget.css the small per-call progress bar (CallProgress)
//   page.js                                 the pop-out page (loads widget.css itself)
// anywidget sends a widget's whole module + stylesheet with every comm_open, and a
// progress bar is opened under every `map` cell: keep progress-widget.* small, and
// minify everything. `node build.mjs --dev` builds unminified (readable) copies;
// `node build.mjs --watch` rebuilds on change (unminified too).
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import { statSync } from "node:fs";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, "../kernel_ext/static");
const watch = process.argv.includes("--watch");
const dev = watch || process.argv.includes("--dev");

/** @type {import("esbuild").BuildOptions} */
const common = { outdir, bundle: true, minify: !dev, legalComments: "none", logLevel: "info" };

/** @type {import("esbuild").BuildOptions[]} */
const builds = [
  {
    ...common,
    entryPoints: {
      widget: path.join(here, "src/widget.js"),
      "progress-widget": path.join(here, "src/progress-widget.js"),
      page: path.join(here, "src/page.js"),
    },
    format: "esm",
    target: "es2020",
    sourcemap: false,
  },
  {
    ...common,
    entryPoints: {
      widget: path.join(here, "src/style.css"),
      "progress-widget": path.join(here, "src/progress.css"),
    },
  },
];

const t0 = performance.now();
if (watch) {
  for (const b of builds) {
    const ctx = await esbuild.context(b);
    await ctx.watch();
  }
  console.log(`taskscope: watching src/ -> ${path.relative(process.cwd(), outdir)}`);
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  const sizes = ["widget.js", "widget.css", "progress-widget.js", "progress-widget.css", "page.js"]
    .map((f) => `${f} ${(statSync(path.join(outdir, f)).size / 1024).toFixed(1)} KiB`).join(", ");
  console.log(`taskscope: built${dev ? " (dev, unminified)" : ""} in ${(performance.now() - t0).toFixed(0)} ms -> ${path.relative(process.cwd(), outdir)}: ${sizes}`);
}
