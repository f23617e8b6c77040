// Runs the Portkey gateway (the npm build installed in bench/node_modules) in this process, and exits
// when the parent's pipe closes, so no Portkey outlives a benchmark run. Spawned by bench/peers.ts.
//
// Usage: node bench/portkey-server.ts --port=8788

const port = process.argv.find((arg) => arg.startsWith("--port="));
if (port === undefined) throw new Error("usage: node bench/portkey-server.ts --port=N");

// Portkey reads its own argv (`--port=`, `--headless`) when its module loads.
process.argv = [process.argv[0]!, "portkey", port, "--headless"];
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
// A specifier in a variable: Portkey ships no types for its server entry, and none are needed.
const entry = "@portkey-ai/gateway/build/start-server.js";
await import(entry);

export {};
