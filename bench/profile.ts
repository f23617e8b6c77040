// Takes a V8 CPU profile of the gateway's Worker under one load shape and prints where its time goes
// (self time by function). A tool for optimising the hot path, not part of `npm run bench`:
//   node bench/profile.ts [--store] [--events=100] [--concurrency=20] [--seconds=5] [--pace=0] [--chat]
// PROFILE_OUT=file.cpuprofile also saves the raw profile (for Chrome DevTools or a script).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGatewayOnMock } from "#bench/gateway";
import { newAgent, runLoad } from "#bench/load-client";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const arg = (name: string, fallback: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

const work = mkdtempSync(join(tmpdir(), "gw-profile-"));
const inspectorPort = Number(process.env.PROFILE_INSPECTOR_PORT ?? 9229 + Math.floor(Math.random() * 500));
const events = Number(arg("events", "100"));
const concurrency = Number(arg("concurrency", "20"));
const seconds = Number(arg("seconds", "5"));
const pace = Number(arg("pace", "0"));
const chat = flag("chat");

const { mock, gateway } = await startGatewayOnMock(work, {
  persistDir: join(process.env.BENCH_PERSIST_DIR ?? work, `persist-${process.pid}`),
  protocol: chat ? "chat_completions" : "responses",
  inspectorPort,
  d1Apart: flag("d1-apart"),
});

/** Connects to the Worker's inspector target (not Miniflare's internal ones). */
async function connect(): Promise<{ send: (method: string, params?: object) => Promise<unknown>; close: () => void }> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as {
    id: string;
    title?: string;
    webSocketDebuggerUrl?: string;
  }[];
  const target = targets.find((t) => (t.title ?? t.id).includes("responses-gateway")) ?? targets[0];
  if (target === undefined) throw new Error("no inspector target");
  const socket = new WebSocket(target.webSocketDebuggerUrl ?? `ws://127.0.0.1:${inspectorPort}/${target.id}`);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let next = 1;
  const pending = new Map<number, (value: unknown) => void>();
  socket.onmessage = (message: MessageEvent<string>) => {
    const data = JSON.parse(message.data) as { id?: number; result?: unknown };
    if (data.id !== undefined) pending.get(data.id)?.(data.result);
  };
  return {
    send: (method, params = {}) =>
      new Promise((resolve) => {
        const id = next++;
        pending.set(id, resolve);
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

try {
  const inspector = await connect();
  await inspector.send("Profiler.enable");
  await inspector.send("Profiler.setSamplingInterval", { interval: 200 });
  const model = `bench:events=${events},pace=${pace}`;
  const body = JSON.stringify({ model, input: "hi", stream: true, store: flag("store") });
  const spec = {
    baseUrl: gateway.baseUrl.replace(/\/$/, ""),
    path: "/responses" as const,
    headers: { authorization: "Bearer bench-key", "content-type": "application/json" },
    body,
    mode: "responses-sse" as const,
    expect: { deltas: events, size: 8 },
    concurrency,
    requests: 1_000_000,
    minSeconds: seconds,
    maxSeconds: seconds,
    rampMs: 0,
    timeoutMs: 120_000,
  };
  await runLoad({ ...spec, minSeconds: 1, maxSeconds: 1 }); // warm up
  await inspector.send("Profiler.start");
  const load = await runLoad(spec, newAgent(concurrency));
  const { profile } = (await inspector.send("Profiler.stop")) as { profile: CpuProfile };
  inspector.close();
  if (process.env.PROFILE_OUT) writeFileSync(process.env.PROFILE_OUT, JSON.stringify(profile));

  const ok = load.results.filter((r) => r.ok).length;
  const totalEvents = load.results.reduce((sum, r) => sum + r.events, 0);
  const self = new Map<number, number>();
  profile.samples.forEach((node, i) => self.set(node, (self.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const time = self.get(node.id) ?? 0;
    total += time;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || "(anonymous)"} ${url.split("/").at(-1) ?? ""}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + time);
  }
  const busy = total - (byFunction.get("(idle) :0") ?? 0) - (byFunction.get("(program) :0") ?? 0);
  console.log(
    `${ok}/${load.results.length} responses ok, ${totalEvents} events in ${(load.wallMs / 1000).toFixed(1)} s`,
  );
  // The Worker isolate's own time: what production bills as CPU (the local D1 and the mock are elsewhere).
  console.log(
    `JS busy ${(busy / 1000).toFixed(0)} ms = ${(busy / Math.max(1, totalEvents)).toFixed(1)} µs per event, ` +
      `${(busy / 1000 / Math.max(1, ok)).toFixed(2)} ms per response`,
  );
  const print = (rows: Map<string, number>, count: number) => {
    for (const [key, time] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, count))
      console.log(
        `${(time / 1000).toFixed(1).padStart(9)} ms  ${((100 * time) / total).toFixed(1).padStart(5)}%  ${key}`,
      );
  };
  console.log("self time:");
  print(byFunction, 40);
  // Inclusive time: each function's own samples plus its callees', counted once per stack.
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const keyOf = (node: ProfileNode) =>
    `${node.callFrame.functionName || "(anonymous)"} ${node.callFrame.url.split("/").at(-1) ?? ""}:${node.callFrame.lineNumber + 1}`;
  const inclusive = new Map<string, number>();
  const walk = (id: number, onStack: Set<string>): number => {
    const node = byId.get(id)!;
    let time = self.get(id) ?? 0;
    const key = keyOf(node);
    const fresh = !onStack.has(key);
    if (fresh) onStack.add(key);
    for (const child of node.children ?? []) time += walk(child, onStack);
    if (fresh) {
      onStack.delete(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + time);
    }
    return time;
  };
  walk(profile.nodes[0]!.id, new Set());
  console.log("inclusive time:");
  print(inclusive, 40);
} finally {
  await gateway.stop();
  await mock.close();
  rmSync(work, { recursive: true, force: true });
}
