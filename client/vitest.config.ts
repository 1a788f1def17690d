import { defineConfig } from "vitest/config";

// Run from the repository root: node_modules/.bin/vitest run --root client
export default defineConfig({
  test: {
    include: ["test/**/*.test.{ts,tsx}"],
    environment: "node",
  },
});
