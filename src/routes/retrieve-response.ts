// GET /v1/responses/{id}: the stored Response (live while running), or with `stream=true` its
// recorded events after `starting_after`, followed to the end if it is still running.

import { invalidRequest } from "../errors";
import { followResponse, type FollowSource } from "../stream/follow";
import { withoutObfuscation } from "../stream/obfuscation";
import { json, type RouteContext } from "./context";
import { currentSnapshot, findOwnResponse, runOf, type Found } from "./lookup";
import { checkIncludeQuery } from "../responses/validation";

export function parseStartingAfter(value: string | null): number {
  if (value === null || value === "") return -1;
  if (!/^-?\d{1,15}$/.test(value))
    throw invalidRequest(
      `Invalid 'starting_after': expected an integer, but got '${value.slice(0, 64)}' instead.`,
      "starting_after",
      "invalid_type",
    );
  return Number(value);
}

/** A boolean query parameter (`true` or `false`; absent or empty: false), refused when it is anything else. */
export function parseBooleanQuery(name: string, value: string | null): boolean {
  if (value === null || value === "" || value === "false") return false;
  if (value === "true") return true;
  throw invalidRequest(
    `Invalid '${name}': expected a boolean (true or false), but got '${value.slice(0, 64)}' instead.`,
    name,
    "invalid_type",
  );
}

/**
 * Where a replay of `found` reads from: D1, then a background run's object while it runs. `client`:
 * the reader is the tenant's own (a resume, an idempotent retry), which holds a run whose client left.
 */
export function followSource(found: Found, maxWaitMs: number, client = false): FollowSource {
  const { db, row, env } = found;
  return {
    db,
    row,
    client,
    maxWaitMs,
    recordFlushMs: found.config.recordFlushMs,
    keepaliveMs: found.config.streamKeepaliveMs,
    env,
    liveTail: async (after) => {
      const live = await runOf(env, row).fetch(`https://run/events?after=${after}`);
      return live.status === 200 ? live.body : null;
    },
  };
}

export async function retrieveResponse(route: RouteContext): Promise<Response> {
  const url = new URL(route.request.url);
  const stream = parseBooleanQuery("stream", url.searchParams.get("stream"));
  checkIncludeQuery(url.searchParams);
  const found = await findOwnResponse(route);
  if (!stream) return json(await currentSnapshot(found));
  const after = parseStartingAfter(url.searchParams.get("starting_after"));
  const replay = followResponse(followSource(found, route.config.maxRunMs, true), after);
  // Obfuscation is included unless the caller says false (as OpenAI's retrieve); not a boolean: a 400.
  const obfuscation = url.searchParams.get("include_obfuscation");
  const obfuscated =
    obfuscation === null || obfuscation === "" || parseBooleanQuery("include_obfuscation", obfuscation);
  if (obfuscated || replay.body === null) return replay;
  return new Response(withoutObfuscation(replay.body as ReadableStream<Uint8Array>), replay);
}
