// Starts the loopback model server the end-to-end tests talk to, and hands its port to the
// Workers pool (see vitest.config.ts).

import type { TestProject } from "vitest/node";
import { startMockUpstream } from "./mock-upstream";

export default async function setup(project: TestProject) {
  const { port, server } = await startMockUpstream();
  project.provide("upstreamPort", port);
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}
