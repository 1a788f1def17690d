import { defineConfig } from "vitest/config";

// Run from the repository root: node_modules/.bin/vitest run --root client
export default defineConfig({
  // Keep Vite's cache in the root node_modules (ignored), not in client/node_modules.
  cacheDir: "../node_modules/.vite/client",
  test: {
    include: ["test/**/*.test.{ts,tsx}"],
    environment: "node",
  },
});
