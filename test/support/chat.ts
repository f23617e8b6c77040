// Models routed to the Chat Completions upstreams of the test routing table (vitest.config.ts):
// the name the client sends, and the name the mock receives once the route stripped its prefix.

import { env } from "cloudflare:workers";
import { countAll } from "./shards";
import type { UpstreamRequest } from "./gateway";
import { upstream } from "./gateway";

export interface RoutedModel {
  /** What the client asks for. */
  model: string;
  /** What the upstream is sent (and what the mock records and gates by). */
  upstream: string;
}

/** `chat:` goes to the chat upstream with the caller's key; `alt/` to a second one with a named key. */
export type Route =
  "chat:" | "alt/" | "alt-responses/" | "unkeyed/" | "strict:" | "alternating:" | "thinking:" | "vllm/";

export function routed(scenario: string, route: Route = "chat:"): RoutedModel {
  const upstreamModel = `${scenario}#${crypto.randomUUID()}`;
  return { model: `${route}${upstreamModel}`, upstream: upstreamModel };
}

/** What the mock received for a routed model. */
export const received = (m: RoutedModel): Promise<UpstreamRequest[]> => upstream.requests(m.upstream);

/** The key the `alt/` routes send (the test value of the secret `ALT_UPSTREAM_KEY`). */
export const ALT_KEY = (env as unknown as { ALT_UPSTREAM_KEY: string }).ALT_UPSTREAM_KEY;

/** Counts rows of a table (to prove a refused request stored nothing). */
export async function rowCount(table: "responses" | "response_items" | "response_events"): Promise<number> {
  return countAll(`SELECT count(*) AS n FROM ${table}`);
}
