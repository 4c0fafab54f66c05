// Bundle the anywidget module, the pop-out page entry and the stylesheet into
// ../kernel_ext/static/. `node build.mjs --watch` rebuilds on change.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, "../kernel_ext/static");
const watch = process.argv.includes("--watch");

/** @type {import("esbuild").BuildOptions[]} */
const builds = [
  {
    entryPoints: { widget: path.join(here, "src/widget.js"), page: path.join(here, "src/page.js") },
    outdir,
    bundle: true,
    format: "esm",
    target: "es2020",
    minify: false,
    sourcemap: false,
    legalComments: "none",
    logLevel: "info",
  },
  {
    entryPoints: { widget: path.join(here, "src/style.css") },
    outdir,
    bundle: true,
    minify: false,
    logLevel: "info",
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
  console.log(`taskscope: built in ${(performance.now() - t0).toFixed(0)} ms -> ${path.relative(process.cwd(), outdir)}`);
}
