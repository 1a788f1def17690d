// Proves the published package works: builds client/, `npm pack`s it, installs the tarball into
// a scratch project in a temporary directory (offline: the package has no dependency) and, with
// Node's own ESM resolution:
//   - the tarball holds only package.json, README.md and dist/;
//   - "." imports with no React installed (so nothing in its graph imports React) and exports
//     the client;
//   - "./react" fails without React, and with React exports a hook that renders;
//   - a TypeScript consumer (moduleResolution NodeNext) typechecks against both entries.
// Run from anywhere: `node client/scripts/pack-test.mjs` (KEEP_TMP=1 keeps the scratch dir).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const clientDir = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(import.meta.url);
const NAME = "@florist-board/realtime-client";

const tmp = mkdtempSync(join(tmpdir(), "realtime-client-pack-"));
const app = join(tmp, "app");
let failed = false;

function run(command, args, cwd, { expectFailure = false } = {}) {
  const result = spawnSync(command, args, { cwd, encoding: "utf8" });
  if ((result.status === 0) === expectFailure) {
    throw new Error(
      `${command} ${args.join(" ")} (in ${cwd}) ${expectFailure ? "succeeded" : `exited ${result.status}`}\n` +
        `${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
  console.log(`ok - ${message}`);
}

/** Runs an ES module in the scratch project, as a consumer would. */
function node(source, options) {
  const file = join(app, `check-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, source);
  return run(process.execPath, [file], app, options);
}

try {
  run(process.execPath, [join(clientDir, "scripts/build.mjs")], clientDir);

  // --- pack (the build above is fresh, so the prepack build is skipped) ------------------
  const packed = JSON.parse(
    run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", tmp], clientDir).stdout,
  )[0];
  const files = packed.files.map((f) => f.path).sort();
  check(
    files.every((f) => f === "package.json" || f === "README.md" || f.startsWith("dist/")),
    `the tarball holds only package.json, README.md and dist/ (${files.length} files)`,
  );
  for (const f of ["dist/index.js", "dist/index.d.ts", "dist/react.js", "dist/react.d.ts"]) {
    check(files.includes(f), `the tarball has ${f}`);
  }

  // --- install into a scratch project, offline ---------------------------------------------
  mkdirSync(app);
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "scratch", version: "0.0.0", private: true, type: "module" }),
  );
  run(
    "npm",
    ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", join(tmp, packed.filename)],
    app,
  );

  // --- "." without React -------------------------------------------------------------------
  node(`
    import * as client from "${NAME}";
    import assert from "node:assert/strict";
    assert.equal(typeof client.RealtimeClient, "function");
    assert.equal(typeof client.RealtimeError, "function");
    assert.equal("useRealtimeUpdates" in client, false);
    const c = new client.RealtimeClient({
      tenant: "demo", token: "t", EventSource: null, logger: null,
      fetch: () => new Promise(() => {}),
    });
    assert.equal(c.mode, "polling");
    c.close();
  `);
  check(true, `"${NAME}" imports with React absent and exports RealtimeClient, RealtimeError`);

  const withoutReact = node(`await import("${NAME}/react");`, { expectFailure: true });
  check(
    /Cannot find (package|module) 'react'/.test(withoutReact.stderr),
    `"${NAME}/react" needs React (an optional peer), and only it does`,
  );

  // --- "./react" with React ------------------------------------------------------------------
  // React comes from the repository's node_modules, linked in: nothing is downloaded.
  for (const name of ["react", "react-dom"]) {
    symlinkSync(dirname(require.resolve(`${name}/package.json`)), join(app, "node_modules", name), "dir");
  }
  node(`
    import { createElement } from "react";
    import { renderToString } from "react-dom/server";
    import { useRealtimeUpdates } from "${NAME}/react";
    import assert from "node:assert/strict";
    function Badge() {
      const { isConnected, updates, updateCount } = useRealtimeUpdates({ tenant: "demo", token: "t" });
      return createElement("b", null, String(isConnected) + " " + updates.length + " " + updateCount);
    }
    assert.equal(renderToString(createElement(Badge)), "<b>false 0 0</b>");
  `);
  check(true, `"${NAME}/react" exports useRealtimeUpdates, which renders on the server`);

  // --- types -----------------------------------------------------------------------------------
  writeFileSync(
    join(app, "consumer.ts"),
    `import { RealtimeClient, RealtimeError, type OrderEvent, type RealtimeState } from "${NAME}";
import { useRealtimeUpdates, type UseRealtimeUpdatesResult } from "${NAME}/react";
const onUpdate = (event: OrderEvent): string => event.id;
const client: RealtimeClient = new RealtimeClient({ tenant: "t", token: "x", onUpdate });
const state: RealtimeState["mode"] = client.mode;
const error: number = new RealtimeError("m", 401).status;
const hook: (o: { enabled: boolean }) => UseRealtimeUpdatesResult = useRealtimeUpdates;
const updates: OrderEvent[] = hook({ enabled: true }).updates;
export { state, error, updates };
`,
  );
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        module: "NodeNext",
        moduleResolution: "NodeNext",
        target: "ES2022",
        lib: ["ES2022", "DOM"],
        strict: true,
        noEmit: true,
        types: [],
      },
      files: ["consumer.ts"],
    }),
  );
  run(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", app], app);
  check(true, "a TypeScript consumer (NodeNext) typechecks against both entries");
} catch (error) {
  failed = true;
  console.error(`not ok - ${error instanceof Error ? error.message : error}`);
} finally {
  if (process.env.KEEP_TMP) console.log(`scratch directory kept: ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
