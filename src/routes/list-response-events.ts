// GET /v1/responses/{id}/events (the gateway's own, for the console): a response's recorded events
// as a cursor list, each with when it was recorded, `t_ms` after the response's creation (null for
// events recorded before times were kept). `after` is a sequence number; `limit` 1-100 (default 20);
// `order` asc (default: from the first event) or desc (from the last back, `after` then the events
// before it), so a reader reaches the end of a long log, and its count, in one page.

import { readEvents, type RecordedEvent } from "../db/event-batches";
import { readEventsBackward } from "../db/events-backward";
import { invalidRequest } from "../errors";
import { checkEnum } from "../responses/validation";
import { json, type RouteContext } from "./context";
import { parseLimit } from "./list";
import { findOwnResponse, type Found } from "./lookup";

function parseAfter(value: string | null): number | null {
  if (value === null || value === "") return null;
  if (!/^-?\d{1,15}$/.test(value))
    throw invalidRequest(
      `Invalid 'after': expected a sequence number, but got '${value.slice(0, 64)}' instead.`,
      "after",
      "invalid_type",
    );
  return Number(value);
}

export async function listResponseEvents(route: RouteContext): Promise<Response> {
  return eventsPage(route, await findOwnResponse(route));
}

/** The page of `found`'s events the request asks for (also the admin API's). */
export async function eventsPage(route: RouteContext, { db, row }: Found): Promise<Response> {
  const params = new URL(route.request.url).searchParams;
  const limit = parseLimit(params.get("limit"));
  const after = parseAfter(params.get("after"));
  const order = params.get("order") || "asc";
  checkEnum("order", order, ["asc", "desc"]);
  const batches =
    order === "asc" ? readEvents(db, row, after ?? -1) : readEventsBackward(db, row, after ?? Number.MAX_SAFE_INTEGER);
  const events: RecordedEvent[] = [];
  let hasMore = false;
  for await (const batch of batches) {
    for (const event of batch) {
      if (events.length === limit) {
        hasMore = true;
        break;
      }
      events.push(event);
    }
    if (hasMore) break;
  }
  const created = row.createdAt * 1000;
  const data = events.map((event) => {
    const body = JSON.parse(event.frame.slice(event.frame.indexOf("\ndata: ") + 7)) as { type: string };
    return {
      object: "response.event",
      sequence_number: event.seq,
      type: body.type,
      t_ms: event.at === null ? null : Math.max(0, event.at - created),
      event: body,
    };
  });
  return json({
    object: "list",
    data,
    first_id: data[0]?.sequence_number ?? null,
    last_id: data.at(-1)?.sequence_number ?? null,
    has_more: hasMore,
  });
}
