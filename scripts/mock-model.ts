// A model server for trying the gateway offline (`npm run mock`): the benchmarks' mock upstream
// (bench/mock-upstream.ts) on a fixed port. Any model name works; it streams lorem ipsum.

import { parseArgs } from "node:util";
import { startMockUpstream } from "../bench/mock-upstream.ts";

/** Next to the gateway's 8787, and what the README's demo points `UPSTREAM_BASE_URL` at. */
const DEFAULT_PORT = 8790;

const { values } = parseArgs({ options: { port: { type: "string", default: String(DEFAULT_PORT) } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`--port must be a port number (0-65535), not '${values.port}'.`);
  process.exit(1);
}

// Each reply with its own item ids, as a real server's: chains kept by the client stay valid.
const mock = await startMockUpstream(port, "127.0.0.1", { uniqueItemIds: true });
const base = `http://127.0.0.1:${mock.port}/v1`;
console.log(`Mock model server on ${base}: POST /responses and /chat/completions, any model, lorem ipsum.`);
console.log(`Point the gateway at it:  npm run dev -- --var UPSTREAM_BASE_URL:${base}`);
console.log("Ctrl-C stops it.");

const stop = (): void => void mock.close().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
