// Build the prebuilt JupyterLab 4 extension into ../../kernel_ext/labextension/ with
// @jupyterlab/builder's `build-labextension`, without needing the jupyterlab Python package:
// the "core path" it wants (JupyterLab's staging/package.json: the shared singletons and their
// versions) comes from the pinned npm package @jupyterlab/core-meta, which holds exactly that
// file as core.package.json. `node build.mjs --development` keeps source maps.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const t0 = performance.now();

const coreMeta = path.dirname(require.resolve("@jupyterlab/core-meta/package.json"));
const coreDir = path.join(here, "node_modules", ".taskscope-core-path");
mkdirSync(coreDir, { recursive: true });
copyFileSync(path.join(coreMeta, "core.package.json"), path.join(coreDir, "package.json"));

const builderBin = path.join(path.dirname(require.resolve("@jupyterlab/builder/package.json")),
  "lib", "build-labextension.js");
const args = [builderBin, "--core-path", coreDir, ...process.argv.slice(2), here];
const r = spawnSync(process.execPath, args, { stdio: "inherit", cwd: here });
if (r.status !== 0) process.exit(r.status ?? 1);

const out = JSON.parse(readFileSync(path.join(here, "package.json"), "utf8")).jupyterlab.outputDir;
const outDir = path.resolve(here, out);
// install.json: tells `jupyter labextension list` that pip owns this extension.
copyFileSync(path.join(here, "install.json"), path.join(outDir, "install.json"));
const core = JSON.parse(readFileSync(path.join(coreDir, "package.json"), "utf8"));
console.log(`taskscope-labextension: built in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
  `against JupyterLab ${core.version} core -> ${path.relative(process.cwd(), outDir)}`);
