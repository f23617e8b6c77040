// `Idempotency-Key` on `POST /v1/responses`: the same key with the same body returns the same
// response (JSON once it finished; for a stream, that response's stream from the start), a different
// body is a 400. The key is claimed for a pre-minted response id before anything runs, so two racing
// attempts make one response and one upstream call. A claim is a lease: if its first attempt died
// before writing its response, a retry takes the key over. Used by the create route.

import type { Db } from "../db/client";
import {
  claimIdempotencyKey,
  idempotencyKeyHeldFor,
  releaseIdempotencyKey,
  renewIdempotencyClaim,
  takeOverIdempotencyKey,
} from "../db/idempotency";
import { findResponse, readSnapshot, type ResponseRow } from "../db/responses";
import { ApiError, invalidRequest } from "../errors";
import type { Caller } from "../http/auth";
import { noteResponse } from "../observe/request-log";
import type { JsonObject } from "../responses/types";
import type { RunSpec } from "../run/spec";
import { endIfStale } from "../stream/dead-run";
import { followResponse, FOLLOW_POLL_MS } from "../stream/follow";
import { sha256Hex } from "../tenancy/gateway-keys";
import { json, type RouteContext } from "./context";
import { currentSnapshot, isTerminal } from "./lookup";
import { followSource } from "./retrieve-response";

/** Longest key accepted: room for any UUID or hash a client uses, bounded for storage. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
/** A claim whose response row has not appeared after this long belongs to an attempt that died. */
export const CLAIM_TAKEOVER_SECONDS = 30;
/** How often a holder whose row is not written yet renews its claim: a third of the takeover window. */
export const CLAIM_RENEW_MS = (CLAIM_TAKEOVER_SECONDS * 1000) / 3;

/**
 * The request's `Idempotency-Key`, or null; a key that is empty or too long is a 400, and so is one
 * with bytes that are not UTF-8: the runtime reads each such byte as U+FFFD, so `café` sent as
 * Latin-1 (as Node's fetch and Python's requests send it) and `cafè` would be one key, and the
 * second request would get the first one's response.
 */
export function idempotencyKeyOf(request: Request): string | null {
  const key = request.headers.get("idempotency-key");
  if (key === null) return null;
  if (key.trim() === "" || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)
    throw invalidRequest(
      `Invalid 'Idempotency-Key' header: expected between 1 and ${MAX_IDEMPOTENCY_KEY_LENGTH} characters.`,
      null,
      "invalid_idempotency_key",
    );
  if (key.includes("\uFFFD"))
    throw invalidRequest(
      "Invalid 'Idempotency-Key' header: it holds bytes that are not UTF-8 text (or U+FFFD), which cannot be told apart. Use ASCII, such as a UUID.",
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
  route: RouteContext;
  db: Db;
  caller: Caller;
  key: string;
  body: JsonObject;
  stream: boolean;
}

/**
 * Starts the run; `release` frees the key, for a stream that turns out to keep nothing after it
 * answered (its row refused by D1), so that a retry runs at once.
 */
export type StartRun = (spec: RunSpec, release: () => Promise<void>) => Promise<Response>;

/** The answer for a key whose response was deleted: a retry must not make it again. */
const keyDeleted = (responseId: string): ApiError =>
  new ApiError(
    404,
    `The response this Idempotency-Key created ('${responseId}') was deleted. Use a new key to create another.`,
    { code: "idempotency_key_deleted" },
  );

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The response's row once it has ended (polled), or undefined if it was deleted meanwhile. A
 * foreground run whose Worker died is ended by this read once its heartbeat is silent, as by any
 * other read (a stream's retry follows it the same way), instead of waiting for the sweep.
 */
async function untilEnded(
  db: Db,
  row: ResponseRow,
  maxWaitMs: number,
  recordFlushMs: number,
  env: object,
): Promise<ResponseRow | undefined> {
  const giveUpAt = Date.now() + maxWaitMs;
  let current: ResponseRow | undefined = row;
  while (current !== undefined && !isTerminal(current) && Date.now() < giveUpAt) {
    if (await endIfStale(db, current, recordFlushMs, env)) current = await findResponse(db, row.tenantId, row.id);
    else {
      await sleep(FOLLOW_POLL_MS);
      current = await findResponse(db, row.tenantId, row.id);
    }
  }
  return current;
}

/**
 * Runs `start` for the response the key was first claimed for. A finished response is answered from
 * D1; a running one is joined (a background run through its object, a foreground one by following
 * D1); an attempt that stored nothing (the start answered an error, or a stream's row was refused)
 * frees the key, so a retry runs the request again.
 */
export async function startIdempotently(create: IdempotentCreate, spec: RunSpec, start: StartRun): Promise<Response> {
  const { db, caller, key } = create;
  const requestHash = await sha256Hex(canonicalJson(create.body));
  for (;;) {
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
    if (claim.deletedAt !== null) throw keyDeleted(claim.responseId);
    if (claim.fresh) return startHolding(create, spec, start);
    const row = await findResponse(db, caller.tenantId, claim.responseId);
    if (row !== undefined) {
      const joined = await joinExisting(create, row);
      // Its attempt was answered with an error and freed the key: this retry runs the request again.
      if (joined === null) continue;
      noteResponse(create.route.request, row.id);
      return replayed(joined);
    }
    // Claimed, no row: its first attempt is starting, or died before writing it.
    if (Date.now() / 1000 - claim.createdAt < CLAIM_TAKEOVER_SECONDS) {
      await sleep(FOLLOW_POLL_MS);
      continue;
    }
    const taken = await takeOverIdempotencyKey(db, {
      tenantId: caller.tenantId,
      key,
      staleResponseId: claim.responseId,
      responseId: spec.responseId,
    });
    if (taken) return startHolding(create, spec, start);
  }
}

/** Starts the run the key is held for; a start that answers (or throws) an error frees the key. */
async function startHolding(create: IdempotentCreate, spec: RunSpec, start: StartRun): Promise<Response> {
  const release = () => releaseIdempotencyKey(create.db, create.caller.tenantId, create.key, spec.responseId);
  const renewal = renewWhileStarting(create, spec.responseId);
  let response: Response;
  try {
    response = await start(spec, release);
  } catch (error) {
    await release();
    throw error;
  } finally {
    renewal.stop();
  }
  if (response.status >= 400) await release();
  return response;
}

/**
 * Keeps a claim from being taken over while its attempt is alive but has not written its row yet
 * (a key the upstream has not accepted yet writes nothing until its call, a create-time compaction
 * included, is answered, possibly after the takeover window): renews it every `CLAIM_RENEW_MS` until
 * the row exists.
 */
function renewWhileStarting(create: IdempotentCreate, responseId: string): { stop: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const claim = { tenantId: create.caller.tenantId, key: create.key, responseId };
  const schedule = () => {
    timer = setTimeout(() => {
      renewIdempotencyClaim(create.db, claim).then(
        (renewed) => {
          if (renewed && !stopped) schedule();
        },
        // A renewal D1 refused is tried again at the next tick.
        () => {
          if (!stopped) schedule();
        },
      );
    }, CLAIM_RENEW_MS);
  };
  schedule();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * The answer for a retry of a create whose response exists. It only ever reads: a retry never
 * starts a run, so one that races a DELETE cannot make the response again (issue 18 item 12).
 * Null when a JSON retry waited for an attempt that the upstream refused: that attempt answered an
 * error and freed the key (its response is kept `failed`), so the retry does as one made after it.
 */
async function joinExisting(create: IdempotentCreate, row: ResponseRow): Promise<Response | null> {
  const { db, route } = create;
  const maxWaitMs = route.config.maxRunMs;
  const found = { caller: create.caller, db, row, env: route.env, config: route.config };
  if (create.stream) return followResponse(followSource(found, maxWaitMs, true), -1);
  // A running background response answers at once, as its create did: its live snapshot.
  if (row.background && !isTerminal(row)) return json(await currentSnapshot(found));
  const ended = await untilEnded(db, row, maxWaitMs, route.config.recordFlushMs, route.env);
  // Deleted while this retry waited: told so, as a retry made after the delete is (not the snapshot it
  // first found, a running response that will never end and no longer exists).
  if (ended === undefined) throw keyDeleted(row.id);
  if (
    ended.status === "failed" &&
    !row.background &&
    !(await idempotencyKeyHeldFor(db, { tenantId: create.caller.tenantId, key: create.key, responseId: row.id }))
  )
    return null;
  return json(await readSnapshot(db, ended));
}
