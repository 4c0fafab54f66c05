// Writes tests/unit/fixtures/format-cases.json: inputs and what js/src/format.js prints for
// them. The Python port (kernel_ext/_format.py, used by the static snapshot) is tested
// against this file, and js/test/format.test.js checks that it is current, so the two
// languages print numbers alike. Run: node js/dev/make-format-cases.mjs
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as f from "../src/format.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const OUT = path.resolve(here, "../../tests/unit/fixtures/format-cases.json");
const nums = [0, 0.5, 1, 2.5, 3.2e-4, 9.99e-4, 0.0123, 0.5, 0.9995, 1.005, 4.21, 9.995, 59.6, 60, 65.3,
  185, 599.5, 3599.5, 3725, 86399, 90000, 999, 1000, 1023, 1024, 1536, 52428800, 536870912,
  1610612736, 1e12, 812.5, 9999, 12345, 2.5e6, 3e9, -4200, -0.5, null, -1];
const fracs = [0, 0.0005, 0.125, 0.973, 0.9996, 1, 1.5, -0.25, null];
export function cases() {
  /** @type {Record<string, Array<[any, string]>>} */
  const out = {};
  for (const name of ["count", "bytes", "duration", "clock", "rate", "eta", "cpu"]) {
    out[name] = nums.map((x) => [x, /** @type {any} */ (f)[name](x)]);
  }
  out.percent = fracs.map((x) => [x, f.percent(x)]);
  return out;
}
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(OUT, JSON.stringify(cases(), null, 1) + "\n");
  console.log(`wrote ${OUT}`);
}
