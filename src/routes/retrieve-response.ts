// GET /v1/responses/{id}: the stored Response (live while running), or with `stream=true` its
// recorded events after `starting_after`, followed live to the end if it is still running.

import { readFrames } from "../db/responses";
import { invalidRequest } from "../errors";
import { SSE_HEADERS } from "../sse";
import { json, type RouteContext } from "./context";
import { currentSnapshot, findOwnResponse, isTerminal, type Found } from "./lookup";

const encoder = new TextEncoder();

function parseStartingAfter(value: string | null): number {
  if (value === null || value === "") return -1;
  if (!/^-?\d{1,15}$/.test(value))
    throw invalidRequest(
      `Invalid 'starting_after': expected an integer, but got '${value.slice(0, 64)}' instead.`,
      "starting_after",
      "invalid_type",
    );
  return Number(value);
}

export function replayFromD1(found: Found, after: number): Response {
  const frames = readFrames(found.db, found.row.id, after);
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await frames.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    async cancel() {
      await frames.return(undefined);
    },
  });
  return new Response(body, { headers: SSE_HEADERS });
}

export async function retrieveResponse(route: RouteContext): Promise<Response> {
  const url = new URL(route.request.url);
  const found = await findOwnResponse(route);
  if (url.searchParams.get("stream") !== "true") return json(await currentSnapshot(found));
  const after = parseStartingAfter(url.searchParams.get("starting_after"));
  if (isTerminal(found.row) && found.row.eventCount > 0) return replayFromD1(found, after);
  const live = await found.run.fetch(`https://run/events?after=${after}`);
  if (live.status === 404) return replayFromD1(found, after);
  return live;
}
