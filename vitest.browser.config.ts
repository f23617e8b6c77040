// The console's browser tests (test/browser/): Node drives Debian's chromium (playwright-core) against
// the real Worker run by wrangler's test harness on loopback, with the mock upstream. `npm test` runs
// them after the Workers suite; `npm run test:browser` alone.

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    environment: "node",
    // One gateway and one browser for the file: its tests run in order.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
