// Starts the loopback model server the end-to-end tests talk to, and hands its port to the
// Workers pool (see vitest.config.ts); holds back the runtime output the tests provoke (quiet.ts).

import type { TestProject } from "vitest/node";
import { startMockUpstream } from "./mock-upstream";
import { quietRuntimeOutput } from "./quiet";

export default async function setup(project: TestProject) {
  const { port, server } = await startMockUpstream();
  project.provide("upstreamPort", port);
  const restoreOutput = quietRuntimeOutput();
  return () =>
    new Promise<void>((resolve) => {
      restoreOutput();
      server.closeAllConnections();
      server.close(() => resolve());
    });
}
