// Outside test suites (test/outside/): others' conformance tests, vendored unmodified, run in Node against
// the real Worker under wrangler's test harness on loopback, with the mock upstream. `npm test` runs them
// after the Workers suite; `npm run test:outside` alone. Also our own tests that need Node rather than
// workerd (test/node/*.test.ts: the admin CLI's argument parsing, node:util parseArgs).

import { defineConfig } from "vitest/config";

export default defineConfig({
  // The Open Responses suite is written for Zod 3 (devDependency `zod3`); the SDKs in the tree use Zod 4.
  resolve: { alias: [{ find: /^zod$/, replacement: "zod3" }] },
  test: {
    include: ["test/outside/*.test.ts", "test/node/*.test.ts"],
    environment: "node",
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
