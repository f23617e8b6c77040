// GET /v1/responses (not in OpenAI's API): the caller's stored responses, newest first by default,
// in OpenAI's list envelope with cursor pagination and filters. Deleted responses are gone.

import { AFTER_NOT_FOUND } from "../db/client";
import { tenantStore } from "../db/shards";
import { pageResponses, type ResponseFilters } from "../db/response-list";
import { readSnapshot } from "../db/responses";
import { invalidRequest } from "../errors";
import { authenticate } from "../http/auth";
import { METADATA_MAX_KEY_LENGTH, METADATA_MAX_KEYS, METADATA_MAX_VALUE_LENGTH } from "../responses/create-request";
import type { ResponseObject, ResponseStatus } from "../responses/types";
import { TERMINAL_STATUSES } from "../responses/types";
import { checkEnum, stringTooLong } from "../responses/validation";
import { json, type RouteContext } from "./context";
import { listObject, parsePageQuery, unknownCursor } from "./list";

const STATUSES = ["queued", "in_progress", "completed", "failed", "incomplete", "cancelled"];
/** Longest `model`, `previous_response_id` or `conversation` filter value; longer ones match no stored row. */
const MAX_FILTER_CHARS = 256;
const METADATA_PARAM = /^metadata\[(.*)\]$/s;

function text(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name);
  if (value === null || value === "") return undefined;
  if (value.length > MAX_FILTER_CHARS) throw stringTooLong(name, MAX_FILTER_CHARS, value.length);
  return value;
}

function unixSeconds(params: URLSearchParams, name: string): number | undefined {
  const value = params.get(name);
  if (value === null || value === "") return undefined;
  if (!/^\d{1,12}$/.test(value))
    throw invalidRequest(
      `Invalid '${name}': expected a unix timestamp in seconds, but got '${value.slice(0, 64)}' instead.`,
      name,
      "invalid_type",
    );
  return Number(value);
}

function booleanParam(params: URLSearchParams, name: string): boolean | undefined {
  const value = params.get(name);
  if (value === null || value === "") return undefined;
  checkEnum(name, value, ["true", "false"]);
  return value === "true";
}

function metadataFilters(params: URLSearchParams): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [name, value] of params) {
    const key = METADATA_PARAM.exec(name)?.[1];
    if (key === undefined) continue;
    const param = `metadata[${key.slice(0, METADATA_MAX_KEY_LENGTH)}]`;
    if (key.length > METADATA_MAX_KEY_LENGTH || value.length > METADATA_MAX_VALUE_LENGTH)
      throw invalidRequest(
        `Invalid '${param}': metadata keys hold at most ${METADATA_MAX_KEY_LENGTH} characters and values at most ${METADATA_MAX_VALUE_LENGTH}.`,
        param,
        "string_above_max_length",
      );
    pairs.push([key, value]);
  }
  if (pairs.length > METADATA_MAX_KEYS)
    throw invalidRequest(
      `Invalid 'metadata': at most ${METADATA_MAX_KEYS} metadata filters, but got ${pairs.length}.`,
      "metadata",
      "object_above_max_properties",
    );
  return pairs;
}

export function parseFilters(params: URLSearchParams): ResponseFilters {
  const status = text(params, "status");
  checkEnum("status", status, STATUSES);
  return {
    model: text(params, "model"),
    status,
    previousResponseId: text(params, "previous_response_id"),
    conversationId: text(params, "conversation"),
    background: booleanParam(params, "background"),
    createdAfter: unixSeconds(params, "created_after"),
    createdBefore: unixSeconds(params, "created_before"),
    metadata: metadataFilters(params),
  };
}

export async function listResponses({ request, env, ctx }: RouteContext): Promise<Response> {
  const caller = await authenticate(request, env, ctx);
  const params = new URL(request.url).searchParams;
  const query = parsePageQuery(params);
  const filters = parseFilters(params);
  const db = (await tenantStore(env, caller.tenantId)).reads();
  const page = await pageResponses(db, caller.tenantId, filters, query);
  if (page === AFTER_NOT_FOUND) throw unknownCursor(query.after, "response");
  const data: ResponseObject[] = [];
  for (const row of page.items) {
    const snapshot = await readSnapshot(db, row);
    // A running response's stored snapshot is its first one; the row knows its current status.
    if (!TERMINAL_STATUSES.has(row.status)) snapshot.status = row.status as ResponseStatus;
    data.push(snapshot);
  }
  return json(listObject(data, page.hasMore));
}
