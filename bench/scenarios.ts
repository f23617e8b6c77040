// What a run measures: the scenarios (full and --quick) and, for each target, the request that exercises
// a scenario and what its reply must look like. Used by bench/run.ts.

import type { Expectation, WireMode } from "#bench/load-client";

export type Protocol = "responses" | "chat_completions";
export type TargetName =
  | "direct"
  | "workerd-proxy"
  | "workerd-do-log"
  | "gateway"
  | "gateway-stored"
  | "gateway-background"
  | "gateway-before"
  | "gateway-before-background"
  | "portkey"
  | "portkey-workerd";
export const TARGETS: TargetName[] = [
  "direct",
  "workerd-proxy",
  "workerd-do-log",
  "gateway",
  "gateway-stored",
  "gateway-background",
  "portkey",
  "portkey-workerd",
];
/** The gateway built from another commit (`--before=<ref>`), run beside this one: stored and background. */
export const BEFORE_TARGETS: TargetName[] = ["gateway-before", "gateway-before-background"];
/** The platform floors (bench/floor.ts): forward what they get, like direct. */
export const isFloor = (target: TargetName): boolean => target === "workerd-proxy" || target === "workerd-do-log";
/** Portkey, on Node and as its Workers build in workerd: proxies, asked as direct is (their chat requests too). */
export const isPortkey = (target: TargetName): boolean => target === "portkey" || target === "portkey-workerd";

/** How a gateway target is asked: `store:false`, stored (foreground), or `background: true` (stored). */
export type GatewayMode = "store:false" | "stored" | "background";
export function gatewayMode(target: TargetName): GatewayMode | undefined {
  switch (target) {
    case "gateway":
      return "store:false";
    case "gateway-stored":
    case "gateway-before":
      return "stored";
    case "gateway-background":
    case "gateway-before-background":
      return "background";
    default:
      return undefined;
  }
}
/** Targets served by the `--before` build rather than this checkout's. */
export const isBefore = (target: TargetName): boolean => BEFORE_TARGETS.includes(target);

export interface Knobs {
  /** Text deltas per response. */
  events: number;
  /** ms between deltas (0 = as fast as the sockets allow). */
  pace: number;
  /** ms before the upstream's first byte. */
  ttft: number;
  /** Characters per delta. */
  size: number;
}

export interface Scenario {
  id: string;
  group: "max-speed" | "paced" | "ten-second" | "non-streaming" | "chat";
  title: string;
  /** The upstream protocol: `chat_completions` runs the gateway in translation mode. */
  protocol: Protocol;
  stream: boolean;
  knobs: Knobs;
  concurrency: number;
  /** Requests at least, unless maxSeconds passes first. */
  requests: number;
  /** The cell goes on at least this long, so even a fast target burns enough CPU ticks to measure. */
  minSeconds: number;
  /** No new request starts after this many seconds (bounds a slow target); in-flight ones finish. */
  maxSeconds: number;
  /** Streams start spread over this many ms instead of all at once. */
  rampMs: number;
  /** Background targets run it too (a background stream is read like a foreground one). */
  background?: boolean;
  /** Only the gateway targets run it (a cost cell: the others have nothing to meter). */
  gatewayOnly?: boolean;
}

/** Whether `target` runs `scenario`. */
export function runsOn(scenario: Scenario, target: TargetName): boolean {
  const mode = gatewayMode(target);
  if (scenario.gatewayOnly === true && mode === undefined) return false;
  if (mode === "background") return scenario.background === true && scenario.stream;
  return true;
}

const SIZE = 8;

/** How long a cell runs: at least `min` seconds, no new request after `max`. */
interface Timing {
  min: number;
  max: number;
}

function maxSpeed(events: number, concurrency: number, time: Timing): Scenario {
  return {
    id: `max-e${events}-c${concurrency}`,
    group: "max-speed",
    title: `Max speed: ${events} events, concurrency ${concurrency}`,
    protocol: "responses",
    stream: true,
    knobs: { events, pace: 0, ttft: 0, size: SIZE },
    concurrency,
    requests: concurrency,
    minSeconds: time.min,
    maxSeconds: time.max,
    rampMs: 0,
    background: concurrency === 20,
  };
}

function paced(events: number, concurrency: number, requests: number, rampMs: number): Scenario {
  const pace = 20;
  const ttft = 300;
  return {
    id: `paced-e${events}-c${concurrency}`,
    group: "paced",
    title: `Paced: ${events} events ${pace} ms apart after ${ttft} ms, concurrency ${concurrency}`,
    protocol: "responses",
    stream: true,
    knobs: { events, pace, ttft, size: SIZE },
    concurrency,
    requests,
    minSeconds: 0,
    maxSeconds: 30,
    rampMs,
  };
}

/**
 * The cost shape: a stream lasting 10 s (the events spread evenly over it), as a model streams;
 * what a Durable Object bills for its wall-clock depends on it. Gateway targets only, in waves of
 * `concurrency` streams: few enough that the machine keeps the pace (units per response do not depend on it).
 */
function tenSeconds(events: number, concurrency: number, requests: number): Scenario {
  const pace = 10_000 / events;
  return {
    id: `stream10s-e${events}`,
    group: "ten-second",
    title: `10-second stream: ${events} events ${pace} ms apart`,
    protocol: "responses",
    stream: true,
    knobs: { events, pace, ttft: 0, size: SIZE },
    concurrency,
    requests,
    minSeconds: 0,
    maxSeconds: 30,
    rampMs: 0,
    background: true,
    gatewayOnly: true,
  };
}

function nonStreaming(concurrency: number, time: Timing): Scenario {
  return {
    id: `json-e100-c${concurrency}`,
    group: "non-streaming",
    title: `Non-streaming (stream:false): 100 events' worth of text, concurrency ${concurrency}`,
    protocol: "responses",
    stream: false,
    knobs: { events: 100, pace: 0, ttft: 0, size: SIZE },
    concurrency,
    requests: concurrency,
    minSeconds: time.min,
    maxSeconds: time.max,
    rampMs: 0,
  };
}

function chat(events: number, concurrency: number, time: Timing): Scenario {
  return {
    id: `chat-e${events}-c${concurrency}`,
    group: "chat",
    title: `Chat Completions upstream (gateway translates): ${events} events, concurrency ${concurrency}`,
    protocol: "chat_completions",
    stream: true,
    knobs: { events, pace: 0, ttft: 0, size: SIZE },
    concurrency,
    requests: concurrency,
    minSeconds: time.min,
    maxSeconds: time.max,
    rampMs: 0,
  };
}

/** Every cell is bounded in time (in-flight streams finish), so a slow target cannot stretch the run. */
export function scenarios(quick: boolean): Scenario[] {
  if (quick) {
    const time = { min: 1, max: 2 };
    return [
      maxSpeed(100, 1, time),
      maxSpeed(1000, 1, time),
      maxSpeed(100, 20, time),
      maxSpeed(1000, 20, time),
      tenSeconds(100, 10, 10),
      tenSeconds(1000, 5, 5),
      paced(100, 10, 10, 0),
      nonStreaming(20, time),
      chat(100, 20, time),
    ];
  }
  const time = { min: 3, max: 6 };
  const cells: Scenario[] = [];
  for (const events of [10, 100, 1000]) {
    for (const concurrency of [1, 20, 100]) cells.push(maxSpeed(events, concurrency, time));
  }
  cells.push(tenSeconds(100, 10, 20), tenSeconds(1000, 5, 10));
  // A paced stream lasts ttft + 300 × 20 ms ≈ 6.3 s: two per stream, starts spread over half a stream.
  cells.push(paced(300, 10, 20, 3000), paced(300, 100, 200, 3000));
  cells.push(nonStreaming(20, time));
  cells.push(chat(100, 1, time), chat(100, 20, time), chat(1000, 1, time), chat(1000, 20, time));
  return cells;
}

export function modelFor(knobs: Knobs): string {
  return `bench:events=${knobs.events},pace=${knobs.pace},ttft=${knobs.ttft},size=${knobs.size}`;
}

export interface RequestShape {
  path: "/responses" | "/chat/completions";
  body: string;
  mode: WireMode;
  expect: Expectation;
  timeoutMs: number;
}

/** Frames of a pass-through Responses stream: created, in_progress, item and part added, deltas, 4 closing. */
const RESPONSES_FRAMES = 8;
/** Chunks of a chat stream besides the deltas: the role chunk, the finish chunk, the usage chunk. */
const CHAT_FRAMES = 3;

/** The request a target gets for a scenario; the gateway always speaks Responses to its client. */
export function requestFor(scenario: Scenario, target: TargetName): RequestShape {
  const { knobs, stream } = scenario;
  const model = modelFor(knobs);
  const timeoutMs = knobs.ttft + knobs.events * knobs.pace + 60_000;
  const expect: Expectation = { deltas: knobs.events, size: knobs.size };
  const viaChat = scenario.protocol === "chat_completions";
  if (viaChat && (target === "direct" || isFloor(target) || isPortkey(target))) {
    const body = {
      model,
      messages: [{ role: "user", content: "Say something." }],
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
    };
    if (stream) expect.frames = knobs.events + CHAT_FRAMES;
    return {
      path: "/chat/completions",
      body: JSON.stringify(body),
      mode: stream ? "chat-sse" : "chat-json",
      expect,
      timeoutMs,
    };
  }
  const mode = gatewayMode(target);
  const background = mode === "background";
  const body = {
    model,
    input: "Say something.",
    stream,
    store: mode === "stored" || background,
    ...(background ? { background: true } : {}),
  };
  // A translated stream may differ in framing; text, order and the terminal event are still checked. A
  // background stream adds `response.queued` after `response.created`.
  if (stream && !viaChat) expect.frames = knobs.events + RESPONSES_FRAMES + (background ? 1 : 0);
  return {
    path: "/responses",
    body: JSON.stringify(body),
    mode: stream ? "responses-sse" : "responses-json",
    expect,
    timeoutMs,
  };
}
