import { createServer } from "node:http";
import type { TestProject } from "vitest/node";

export default async function setup(project: TestProject) {
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    let n = 0;
    const t = setInterval(() => {
      res.write(`data: ${n}\n\n`);
      if (++n === 5) { clearInterval(t); res.end(); }
    }, 5);
    req.on("close", () => clearInterval(t));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  project.provide("upstreamPort", typeof address === "object" && address ? address.port : 0);
  return () => new Promise<void>((r) => server.close(() => r()));
}
