// Builds the package into client/dist: ESM JavaScript and .d.ts declarations, both by tsc with
// client/tsconfig.build.json. Run from anywhere: `node client/scripts/build.mjs`.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const clientDir = fileURLToPath(new URL("..", import.meta.url));
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
const run = spawnSync(process.execPath, [tsc, "-p", `${clientDir}tsconfig.build.json`], {
  stdio: "inherit",
});
if (run.status !== 0) {
  console.error("client build failed");
  process.exit(run.status ?? 1);
}
