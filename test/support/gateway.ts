// The real `openai` SDK pointed at the real Worker entry point, and the mock upstream's controls.

import { env, exports } from "cloudflare:workers";
import OpenAI from "openai";

export const GATEWAY_URL = "http://gateway.test/v1";

/** Sends a request through the Worker's own fetch handler. */
export const gatewayFetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
  exports.default.fetch(new Request(input, init));

export function client(apiKey = "sk-test-tenant-a"): OpenAI {
  return new OpenAI({ apiKey, baseURL: GATEWAY_URL, fetch: gatewayFetch, maxRetries: 0 });
}

/** A model name that selects a mock scenario, tagged so concurrent tests stay apart. */
export const model = (scenario: string): string => `${scenario}#${crypto.randomUUID()}`;

const mockUrl = (path: string, model: string) =>
  `${env.UPSTREAM_BASE_URL.replace(/\/v1$/, "")}/__mock/${path}?model=${encodeURIComponent(model)}`;

export interface UpstreamRequest {
  path: string;
  authorization: string | null;
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
};

/** Reads an SSE body into its parsed events. */
export async function readEvents(body: ReadableStream<Uint8Array> | null): Promise<Record<string, unknown>[]> {
  const text = await new Response(body).text();
  return text
    .split("\n\n")
    .filter((frame) => frame.includes("data: "))
    .map((frame) => JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as Record<string, unknown>);
}

/** Drops what the SDK adds to a parsed Response (`output_parsed`, parts' `parsed`), to compare with stored ones. */
export function withoutParsed<T>(response: T): T {
  return JSON.parse(
    JSON.stringify(response, (key, value: unknown) =>
      key === "output_parsed" || key === "parsed" ? undefined : value,
    ),
  ) as T;
}
