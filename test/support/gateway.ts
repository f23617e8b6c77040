// The real `openai` SDK pointed at the real Worker entry point, and the mock upstream's controls.

import { env, exports } from "cloudflare:workers";
import OpenAI from "openai";
import { expect } from "vitest";
import { until } from "./hooks";

export const GATEWAY_URL = "http://gateway.test/v1";

/** Sends a request through the Worker's own fetch handler. */
export const gatewayFetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
  exports.default.fetch(new Request(input, init));

export function client(apiKey = "sk-test-tenant-a"): OpenAI {
  return new OpenAI({ apiKey, baseURL: GATEWAY_URL, fetch: gatewayFetch, maxRetries: 0 });
}

/** A model name that selects a mock scenario, tagged so concurrent tests stay apart. */
export const model = (scenario: string): string => `${scenario}#${crypto.randomUUID()}`;

/** The text the mock's `text:N` and `gate:K:N` scenarios stream: `w0 w1 … w{N-1} `. */
export const words = (count: number): string => Array.from({ length: count }, (_, i) => `w${i} `).join("");

const mockOrigin = env.UPSTREAM_BASE_URL.replace(/\/v1$/, "");
const mockUrl = (path: string, model: string) => `${mockOrigin}/__mock/${path}?model=${encodeURIComponent(model)}`;

export interface UpstreamRequest {
  path: string;
  authorization: string | null;
  /** The `content-length` it was sent with; null when sent chunked. */
  contentLength: string | null;
  body: Record<string, unknown>;
}

export const upstream = {
  async requests(model: string): Promise<UpstreamRequest[]> {
    return (await fetch(mockUrl("requests", model))).json<UpstreamRequest[]>();
  },
  async release(model: string): Promise<void> {
    await (await fetch(mockUrl("release", model), { method: "POST" })).text();
  },
  async closedEarly(model: string): Promise<number> {
    return (await (await fetch(mockUrl("closed", model))).json<{ closed: number }>()).closed;
  },
  /** How often the gateway asked the upstream's GET /models whether it accepts `key`. */
  async keyChecks(key: string): Promise<number> {
    const url = `${mockOrigin}/__mock/key-checks?key=${encodeURIComponent(key)}`;
    return (await (await fetch(url)).json<{ checks: number }>()).checks;
  },
  /** From now on the upstream refuses `key` (401), as when its owner revokes it. */
  async revoke(key: string): Promise<void> {
    await (await fetch(`${mockOrigin}/__mock/revoke?key=${encodeURIComponent(key)}`, { method: "POST" })).text();
  },
};

/** Reads an SSE body into its parsed events. */
export async function readEvents(body: ReadableStream<Uint8Array> | null): Promise<Record<string, unknown>[]> {
  const text = await new Response(body).text();
  return text
    .split("\n\n")
    .filter((frame) => frame.includes("data: "))
    .map((frame) => JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as Record<string, unknown>);
}

/**
 * The raw SSE events of a gateway request made with `key`: a GET without `body`, a POST with it.
 * For streams the SDK would throw at (its stream helper stops at an `error` event).
 */
export async function rawEvents(key: string, path: string, body?: unknown): Promise<Record<string, unknown>[]> {
  const res = await gatewayFetch(`${GATEWAY_URL}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return readEvents(res.body);
}

/** Polls a response until its `output_text` is `text` (a gated run streamed that far); returns it. */
export const untilOutput = (openai: OpenAI, id: string, text: string): Promise<OpenAI.Responses.Response> =>
  until(
    () => openai.responses.retrieve(id),
    (response) => response.output_text === text,
    `output ${JSON.stringify(text)}`,
  );

/**
 * A background response caught running: started on a gated scenario (`gate:6:N` holds it after
 * two words), returned once its partial output `w0 w1 ` shows. `upstream.release(model)` lets it go on.
 */
export async function heldBackground(openai: OpenAI, scenario = "gate:6:10"): Promise<{ model: string; id: string }> {
  const m = model(scenario);
  const created = await openai.responses.create({ model: m, input: "x", background: true });
  await untilOutput(openai, created.id, "w0 w1 ");
  return { model: m, id: created.id };
}

/** Drops what the SDK adds to a parsed Response (`output_parsed`, parts' `parsed`), to compare with stored ones. */
export function withoutParsed<T>(response: T): T {
  return JSON.parse(
    JSON.stringify(response, (key, value: unknown) =>
      key === "output_parsed" || key === "parsed" ? undefined : value,
    ),
  ) as T;
}

/** The stored responses made with `model` (the gateway's own list, filtered by model), newest first. */
export async function storedFor(openai: OpenAI, m: string): Promise<OpenAI.Responses.Response[]> {
  const page = await openai.get<{ data: OpenAI.Responses.Response[] }>("/responses", { query: { model: m } });
  return page.data;
}

/**
 * A create the upstream refused (or could not be reached for) is kept as history, as OpenAI keeps
 * failed responses: exactly one `failed` response with the refusal's error.
 */
export async function expectKeptAsFailed(
  openai: OpenAI,
  m: string,
  error: { code?: string; message?: string | RegExp },
): Promise<void> {
  const stored = await storedFor(openai, m);
  expect(stored.map((response) => response.status)).toEqual(["failed"]);
  const kept = stored[0]?.error;
  if (error.code !== undefined) expect(kept?.code).toBe(error.code);
  if (typeof error.message === "string") expect(kept?.message).toBe(error.message);
  else if (error.message !== undefined) expect(kept?.message).toMatch(error.message);
}
