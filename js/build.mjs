// Bundle the front end into ../kernel_ext/static/:
//   carrier.js       both widget modules (dashboard + progress bar), sent ONCE per kernel by
//                    the hidden code-carrier model, which registers them page-wide
//   loader.js        the `_esm` of every Dashboard / CallProgress: a tiny stand-in that waits
//                    for the carrier's modules and delegates to them
//   widget.css       the stylesheet (dashboard + progress bar); the carrier adds it once, and
//                    the pop-out page loads it itself
//   widget.js, progress-widget.js + .css   the two widget modules on their own (standalone
//                    anywidget modules; the dev harness and tests use them)
//   page.js          the pop-out page
//   report.js        the offline report (kernel_ext/reports.py inlines it into one HTML file)
// anywidget sends a widget's `_esm` + `_css` with every comm_open, and a progress bar is
// opened under every `map` cell: keep loader.js tiny (checked below), and minify everything. `node build.mjs --dev` builds unminified (readable) copies;
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
      report: path.join(here, "src/report.js"),
      carrier: path.join(here, "src/carrier.js"),
      loader: path.join(here, "src/loader.js"),
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
  const sizes = ["loader.js", "carrier.js", "widget.js", "widget.css", "progress-widget.js", "progress-widget.css", "page.js", "report.js"]
    .map((f) => `${f} ${(statSync(path.join(outdir, f)).size / 1024).toFixed(1)} KiB`).join(", ");
  const loaderSize = statSync(path.join(outdir, "loader.js")).size;
  if (!dev && loaderSize > 2048) {
    console.error(`taskscope: loader.js is ${loaderSize} bytes; it travels with every widget's comm_open: keep it under 2 KiB`);
    process.exit(1);
  }
  console.log(`taskscope: built${dev ? " (dev, unminified)" : ""} in ${(performance.now() - t0).toFixed(0)} ms -> ${path.relative(process.cwd(), outdir)}: ${sizes}`);
}
