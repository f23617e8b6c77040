// WebSocket mode against HTTP (issue 13): a 10-turn tool loop on one socket and the same loop over
// HTTP, through this repository's Worker under Miniflare in front of the bench mock, measured per turn
// (client latency, time to first event, the gateway's CPU) with the mock hit directly as the floor.
// Runs on its own: `node bench/ws-loop.ts [--loops=20] [--protocol=responses|chat_completions] [--json=FILE]`.

import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stopAll } from "#bench/children";
import { percentiles, type Percentiles } from "#bench/figures";
import { int, num, signed, table } from "#bench/format";
import { bundleGateway, startGateway, type Gateway } from "#bench/gateway";
import { startMockUpstream } from "#bench/mock-upstream";
import { cpuMs, settle } from "#bench/proc-stats";

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
const WORK = join(BENCH, ".work");
const STORAGE_DIR = process.env.BENCH_STORAGE_DIR ?? (existsSync("/dev/shm") ? "/dev/shm" : tmpdir());
const API_KEY = "bench-key";

const args = process.argv.slice(2);
const option = (name: string): string | undefined =>
  args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const LOOPS = Number(option("loops") ?? 20);
const TURNS = 10;
const PROTOCOL = option("protocol") === "chat_completions" ? "chat_completions" : "responses";
/** 20 text deltas of 8 characters at full speed: the gateway's own time dominates each turn. */
const MODEL = "bench:events=20,size=8";
/** What a tool returns to the model each turn (a short command output). */
const TOOL_OUTPUT = "ok ".repeat(100);

type Item = Record<string, unknown>;
type Mode = "direct" | "http stored" | "ws stored" | "http store:false" | "ws store:false";
const MODES: Mode[] = ["direct", "http stored", "ws stored", "http store:false", "ws store:false"];

interface TurnTiming {
  /** Request sent → first event. */
  firstEventMs: number;
  /** Request sent → the event that ends it. */
  turnMs: number;
}

/** One turn's request: the first asks, each later one returns a tool's output. */
function turnInput(turn: number): Item[] {
  if (turn === 0) return [{ role: "user", content: "Run the tests and fix what fails." }];
  return [{ type: "function_call_output", call_id: `call_${turn}`, output: TOOL_OUTPUT }];
}

const tools = [
  {
    type: "function",
    name: "shell",
    description: "Runs a shell command.",
    parameters: { type: "object", properties: { command: { type: "string" } }, required: ["command"] },
  },
];

/** Reads SSE frames from a fetch body until the terminal event; returns the timing and the final response. */
async function readSse(res: Response, sent: number): Promise<{ timing: TurnTiming; response: Item }> {
  if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let firstEventMs = Number.NaN;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error("stream ended without a terminal event");
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame.split("\n").find((line) => line.startsWith("data: "));
      if (data === undefined || data === "data: [DONE]") continue;
      if (Number.isNaN(firstEventMs)) firstEventMs = performance.now() - sent;
      const event = JSON.parse(data.slice(6)) as Item;
      if (event.type === "error") throw new Error(`error event: ${data}`);
      if (typeof event.type === "string" && /^response\.(completed|failed|incomplete)$/.test(event.type)) {
        await reader.cancel();
        return { timing: { firstEventMs, turnMs: performance.now() - sent }, response: event.response as Item };
      }
    }
  }
}

/** The output items of a final response, as the next turn's context. */
const outputOf = (response: Item): Item[] => (Array.isArray(response.output) ? (response.output as Item[]) : []);

/** One loop over HTTP: stored turns chain with previous_response_id; store:false ones resend the history. */
async function httpLoop(baseUrl: string, stored: boolean, direct: boolean): Promise<TurnTiming[]> {
  const timings: TurnTiming[] = [];
  let history: Item[] = [];
  let previous: string | undefined;
  for (let turn = 0; turn < TURNS; turn++) {
    const input = turnInput(turn);
    const body: Item = { model: MODEL, tools, stream: true, store: stored };
    if (stored && !direct) {
      body.input = input;
      if (previous !== undefined) body.previous_response_id = previous;
    } else body.input = [...history, ...input];
    const sent = performance.now();
    const res = await fetch(`${baseUrl}/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const { timing, response } = await readSse(res, sent);
    timings.push(timing);
    previous = response.id as string;
    history = [...history, ...input, ...outputOf(response)];
  }
  return timings;
}

/** A socket whose frames are read in order. */
class LoopSocket {
  readonly #socket: WebSocket;
  readonly #inbox: Item[] = [];
  #wake: (() => void) | undefined;
  #failure: Error | undefined;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.addEventListener("message", (event) => {
      this.#inbox.push(JSON.parse(String(event.data)) as Item);
      this.#wake?.();
    });
    socket.addEventListener("close", (event) => {
      this.#failure ??= new Error(`socket closed: ${event.code} ${event.reason}`);
      this.#wake?.();
    });
  }

  static async open(baseUrl: string): Promise<LoopSocket> {
    const url = `${baseUrl.replace(/^http/, "ws")}/responses`;
    // Node's WebSocket (undici) takes headers, as the Agents SDK relies on.
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${API_KEY}` } } as unknown as string[]);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve());
      socket.addEventListener("error", () => reject(new Error(`could not open ${url}`)));
    });
    return new LoopSocket(socket);
  }

  async next(): Promise<Item> {
    for (;;) {
      const event = this.#inbox.shift();
      if (event !== undefined) return event;
      if (this.#failure !== undefined) throw this.#failure;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  async turn(body: Item): Promise<{ timing: TurnTiming; response: Item }> {
    const sent = performance.now();
    this.#socket.send(JSON.stringify({ type: "response.create", ...body }));
    let firstEventMs = Number.NaN;
    for (;;) {
      const event = await this.next();
      if (Number.isNaN(firstEventMs)) firstEventMs = performance.now() - sent;
      if (event.type === "error") throw new Error(`error event: ${JSON.stringify(event)}`);
      if (typeof event.type === "string" && /^response\.(completed|failed|incomplete)$/.test(event.type))
        return { timing: { firstEventMs, turnMs: performance.now() - sent }, response: event.response as Item };
    }
  }

  close(): void {
    this.#socket.close(1000, "done");
  }
}

/** One loop on one socket: every turn chains with previous_response_id (store:false from the socket's cache). */
async function wsLoop(baseUrl: string, stored: boolean): Promise<TurnTiming[]> {
  const socket = await LoopSocket.open(baseUrl);
  const timings: TurnTiming[] = [];
  let previous: string | undefined;
  try {
    for (let turn = 0; turn < TURNS; turn++) {
      const body: Item = { model: MODEL, tools, store: stored, input: turnInput(turn) };
      if (previous !== undefined) body.previous_response_id = previous;
      const { timing, response } = await socket.turn(body);
      timings.push(timing);
      previous = response.id as string;
    }
  } finally {
    socket.close();
  }
  return timings;
}

function loopOf(mode: Mode, gateway: string, mock: string): Promise<TurnTiming[]> {
  switch (mode) {
    case "direct":
      return httpLoop(mock, false, true);
    case "http stored":
      return httpLoop(gateway, true, false);
    case "http store:false":
      return httpLoop(gateway, false, false);
    case "ws stored":
      return wsLoop(gateway, true);
    case "ws store:false":
      return wsLoop(gateway, false);
  }
}

export interface ModeResult {
  mode: Mode;
  turns: number;
  turn: Percentiles | undefined;
  firstEvent: Percentiles | undefined;
  /** Per-turn percentiles by position in the loop (turn 1 … 10), p50 only. */
  byTurn: number[];
  /** Gateway (workerd) CPU per turn; for direct, the mock's. */
  cpuMsPerTurn: number;
}

/**
 * Runs every mode's loops against a started gateway and mock; `pids` are the gateway's workerd
 * processes. Modes take turns loop by loop (in a rotating order), so load from elsewhere on the
 * machine falls on all of them alike; the gateway's CPU is read around each loop once it is quiet.
 */
export async function runWsLoop(
  gatewayUrl: string,
  mockUrl: string,
  pids: number[],
  loops = LOOPS,
  log: (line: string) => void = console.log,
): Promise<ModeResult[]> {
  const timings = new Map<Mode, TurnTiming[][]>(MODES.map((mode) => [mode, []]));
  const cpu = new Map<Mode, number>(MODES.map((mode) => [mode, 0]));
  // One unmeasured loop each: JIT, D1 pages, connections.
  for (const mode of MODES) await loopOf(mode, gatewayUrl, mockUrl);
  await settle(pids);
  for (let loop = 0; loop < loops; loop++) {
    for (let i = 0; i < MODES.length; i++) {
      const mode = MODES[(loop + i) % MODES.length]!;
      const before = cpuMs(pids);
      timings.get(mode)!.push(await loopOf(mode, gatewayUrl, mockUrl));
      await settle(pids);
      cpu.set(mode, cpu.get(mode)! + cpuMs(pids) - before);
    }
    if ((loop + 1) % 5 === 0) log(`  ${loop + 1}/${loops} loops`);
  }
  return MODES.map((mode) => {
    const loopsOfMode = timings.get(mode)!;
    const all = loopsOfMode.flat();
    return {
      mode,
      turns: all.length,
      turn: percentiles(all.map((t) => t.turnMs)),
      firstEvent: percentiles(all.map((t) => t.firstEventMs)),
      byTurn: Array.from({ length: TURNS }, (_, i) => percentiles(loopsOfMode.map((l) => l[i]!.turnMs))?.p50 ?? NaN),
      cpuMsPerTurn: mode === "direct" ? Number.NaN : cpu.get(mode)! / all.length,
    };
  });
}

/** Cloudflare list prices (Workers Paid, Durable Objects), per unit. */
const PRICE = {
  workerRequest: 0.3 / 1e6,
  workerCpuMs: 0.02 / 1e6,
  doRequest: 0.15 / 1e6,
  doGbSecond: 12.5 / 1e6,
};
/** A Durable Object is billed for 128 MB while it is awake. */
const DO_GB = 0.128;

export function report(results: ModeResult[], protocol: string, loops: number): string {
  const direct = results.find((r) => r.mode === "direct");
  const rows = results.map((r) => {
    const added = r.mode === "direct" ? undefined : (r.turn?.p50 ?? NaN) - (direct?.turn?.p50 ?? NaN);
    // HTTP: each turn is a Worker request; a Worker-owned socket: one request for the whole connection.
    const requests = r.mode.startsWith("http") ? 1 : 1 / TURNS;
    const cost = r.mode === "direct" ? NaN : requests * PRICE.workerRequest + r.cpuMsPerTurn * PRICE.workerCpuMs;
    return [
      r.mode,
      int(r.turns),
      num(r.turn?.p50, 2),
      num(r.turn?.p90, 2),
      signed(added),
      num(r.firstEvent?.p50, 2),
      num(r.cpuMsPerTurn, 2),
      r.mode === "direct" ? "–" : `$${(cost * 1e6).toFixed(3)}`,
    ];
  });
  const byTurn = table(
    ["mode", ...Array.from({ length: TURNS }, (_, i) => `t${i + 1}`)],
    results.map((r) => [r.mode, ...r.byTurn.map((ms) => num(ms, 1))]),
  );
  const wsFalse = results.find((r) => r.mode === "ws store:false");
  // A Durable Object owner would add, per turn: one DO request (incoming socket messages bill 20:1) and
  // wall-clock duration for as long as the turn awaits the upstream (it cannot hibernate mid-turn).
  const doPerTurn = (modelSeconds: number) => PRICE.doRequest / 20 + modelSeconds * DO_GB * PRICE.doGbSecond;
  return [
    `### WebSocket vs HTTP: a ${TURNS}-turn tool loop (${protocol} upstream, ${loops} loops per mode, interleaved, concurrency 1)`,
    "",
    table(
      [
        "mode",
        "turns",
        "turn p50 ms",
        "turn p90 ms",
        "added p50 ms vs direct",
        "first event p50 ms",
        "gateway CPU ms/turn",
        "Worker $ per 1M turns",
      ],
      rows,
    ),
    "",
    "Turn p50 by position in the loop (ms):",
    "",
    byTurn,
    "",
    `Worker $ = requests ($0.30/M; a socket is one request per connection, here per ${TURNS} turns) + CPU ($0.02/M ms).`,
    `A Durable Object owner would add per turn $${(doPerTurn(1) * 1e6).toFixed(2)}/M at 1 s of model time,`,
    `$${(doPerTurn(10) * 1e6).toFixed(2)}/M at 10 s (128 MB × wall-clock at $12.50/M GB-s, plus 1/20 DO request),`,
    `against the Worker owner's measured $${(((wsFalse?.cpuMsPerTurn ?? NaN) * PRICE.workerCpuMs + PRICE.workerRequest / TURNS) * 1e6).toFixed(3)}/M (ws store:false).`,
  ].join("\n");
}

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  const bundleDir = join(WORK, "ws-bundle");
  console.log("bundling the gateway (wrangler deploy --dry-run)…");
  await bundleGateway(ROOT, bundleDir);
  const mock = await startMockUpstream(0);
  const mockUrl = `http://127.0.0.1:${mock.port}`;
  let gateway: Gateway | undefined;
  try {
    gateway = await startGateway({
      root: ROOT,
      bundleDir,
      persistDir: mkdtempSync(join(STORAGE_DIR, "bench-ws-")),
      upstreamBaseUrl: `${mockUrl}/v1`,
      protocol: PROTOCOL,
      logFile: join(WORK, "ws-gateway.log"),
    });
    console.log(`gateway ${gateway.baseUrl}, mock ${mockUrl}; ${LOOPS} loops of ${TURNS} turns per mode`);
    const results = await runWsLoop(gateway.baseUrl, `${mockUrl}/v1`, gateway.pids);
    const text = report(results, PROTOCOL, LOOPS);
    console.log(`\n${text}`);
    const json = option("json");
    if (json !== undefined) writeFileSync(json, JSON.stringify({ protocol: PROTOCOL, loops: LOOPS, results }, null, 2));
  } finally {
    await gateway?.stop();
    await mock.close();
    await stopAll();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch(async (error: unknown) => {
    console.error(error);
    await stopAll();
    process.exit(1);
  });
}
