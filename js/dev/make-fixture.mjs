// Writes test/fixtures/state.json from dev/fixture.js (the binary rings are
// regenerated on the fly by the tests and the harness; they are 4.8 MB).
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { makeFixture } from "./fixture.js";

const out = fileURLToPath(new URL("../test/fixtures/state.json", import.meta.url));
const { state, stream, resources } = makeFixture();
writeFileSync(out, JSON.stringify(state, null, 1) + "\n");
console.log(`wrote ${out}: ${stream.length / 6} stream records, ${resources.length / 5} resource samples (generated, not written)`);
