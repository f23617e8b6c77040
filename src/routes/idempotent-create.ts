// `Idempotency-Key` on `POST /v1/responses`: the same key with the same body returns the same
// response (JSON once it finished; for a stream, that response's stream from the start), a different
// body is a 400. The key is claimed for a pre-minted response id before anything runs, so two racing
// attempts make one response and one upstream call. Used by the create route.

import type { Db } from "../db/client";
import { claimIdempotencyKey, releaseIdempotencyKey } from "../db/idempotency";
import { findResponse, readSnapshot } from "../db/responses";
import { invalidRequest } from "../errors";
import type { Caller } from "../http/auth";
import type { JsonObject } from "../responses/types";
import type { RunSpec } from "../run/spec";
import { sha256Hex } from "../tenancy/gateway-keys";
import { json } from "./context";
import { isTerminal } from "./lookup";
import { replayFromD1 } from "./retrieve-response";

/** Longest key accepted: room for any UUID or hash a client uses, bounded for storage. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** The request's `Idempotency-Key`, or null; a key that is empty or too long is a 400. */
export function idempotencyKeyOf(request: Request): string | null {
  const key = request.headers.get("idempotency-key");
  if (key === null) return null;
  if (key.trim() === "" || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)
    throw invalidRequest(
      `Invalid 'Idempotency-Key' header: expected between 1 and ${MAX_IDEMPOTENCY_KEY_LENGTH} characters.`,
      null,
      "invalid_idempotency_key",
    );
  return key;
}

/** JSON with object keys sorted, so the same body hashes the same whatever its key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

const replayed = (response: Response): Response => {
  const copy = new Response(response.body, response);
  copy.headers.set("idempotent-replayed", "true");
  return copy;
};

export interface IdempotentCreate {
  env: Env;
  db: Db;
  caller: Caller;
  key: string;
  body: JsonObject;
  stream: boolean;
}

/**
 * Runs `start` for the response the key was first claimed for. A finished response is answered
 * from D1; a running one is joined by its Durable Object; an attempt that stored nothing (the start
 * answered an error) frees the key, so a retry runs the request again.
 */
export async function startIdempotently(
  create: IdempotentCreate,
  spec: RunSpec,
  start: (spec: RunSpec) => Promise<Response>,
): Promise<Response> {
  const { db, caller, key } = create;
  const requestHash = await sha256Hex(canonicalJson(create.body));
  const claim = await claimIdempotencyKey(db, {
    tenantId: caller.tenantId,
    key,
    requestHash,
    responseId: spec.responseId,
  });
  if (claim.requestHash !== requestHash)
    throw invalidRequest(
      "This Idempotency-Key was already used with a different request body. Use a new key for a new request.",
      null,
      "idempotency_key_reused",
    );
  if (!claim.fresh) {
    const row = await findResponse(db, caller.tenantId, claim.responseId);
    if (row !== undefined && isTerminal(row) && (!create.stream || row.eventCount > 0)) {
      if (!create.stream) return replayed(json(await readSnapshot(db, row)));
      const run = create.env.RESPONSE_RUN.getByName(row.id);
      return replayed(replayFromD1({ caller, db, row, run }, -1));
    }
  }
  const response = await start({ ...spec, responseId: claim.responseId });
  if (response.status >= 400) await releaseIdempotencyKey(db, caller.tenantId, key, claim.responseId);
  return claim.fresh ? response : replayed(response);
}
