// The only D1 queries on `Idempotency-Key`s of `POST /v1/responses`: claim a key for a pre-minted
// response id, renew the claim while its attempt prepares, forget it when the attempt stored nothing
// or was refused (and tell a retry that waited for it so), whether a key is in use (a retry), and the cleanup of expired keys (exported
// for the retention job). Used by the idempotent create and the delete route.

import { and, eq, gt, inArray, lte, notExists, sql, type SQL } from "drizzle-orm";
import type { Db, Statement } from "./client";
import { idempotencyKeys, responses } from "./schema";

/** How long a key is remembered: a client retrying within a day gets the same response. */
export const IDEMPOTENCY_WINDOW_SECONDS = 24 * 60 * 60;

export interface IdempotencyClaim {
  responseId: string;
  requestHash: string;
  /** True when this call claimed the key (the response id is the one it offered). */
  fresh: boolean;
  /** When the key was claimed (unix seconds). */
  createdAt: number;
  /** The response it made was deleted (unix seconds), or null. */
  deletedAt: number | null;
}

/**
 * Claims `key` for `responseId` unless it is already claimed and unexpired: then returns what it
 * was claimed for. One statement decides, so of two racing requests exactly one claims the key.
 */
export async function claimIdempotencyKey(
  db: Db,
  claim: { tenantId: string; key: string; requestHash: string; responseId: string },
): Promise<IdempotencyClaim> {
  const now = Math.floor(Date.now() / 1000);
  const row = {
    tenantId: claim.tenantId,
    key: claim.key,
    requestHash: claim.requestHash,
    responseId: claim.responseId,
    createdAt: now,
    expiresAt: now + IDEMPOTENCY_WINDOW_SECONDS,
  };
  const inserted = await db
    .insert(idempotencyKeys)
    .values(row)
    .onConflictDoUpdate({
      target: [idempotencyKeys.tenantId, idempotencyKeys.key],
      set: {
        requestHash: row.requestHash,
        responseId: row.responseId,
        createdAt: row.createdAt,
        expiresAt: row.expiresAt,
        deletedAt: null,
      },
      setWhere: lte(idempotencyKeys.expiresAt, now),
    })
    .returning({ responseId: idempotencyKeys.responseId });
  if (inserted.length > 0)
    return {
      responseId: claim.responseId,
      requestHash: claim.requestHash,
      fresh: true,
      createdAt: now,
      deletedAt: null,
    };
  const existing = await db
    .select({
      responseId: idempotencyKeys.responseId,
      requestHash: idempotencyKeys.requestHash,
      createdAt: idempotencyKeys.createdAt,
      deletedAt: idempotencyKeys.deletedAt,
    })
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.tenantId, claim.tenantId), eq(idempotencyKeys.key, claim.key)))
    .limit(1);
  const found = existing[0];
  // Deleted between the two statements (by an attempt that failed): the key is free again.
  if (found === undefined) return claimIdempotencyKey(db, claim);
  return { ...found, fresh: false };
}

/** The key's row while it is claimed for `responseId` (no other attempt took it over). */
const claimedFor = (tenantId: string, key: string, responseId: string): SQL | undefined =>
  and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, key), eq(idempotencyKeys.responseId, responseId));

/** Forgets a key whose attempt stored nothing, so a retry runs the request again. */
export async function releaseIdempotencyKey(db: Db, tenantId: string, key: string, responseId: string): Promise<void> {
  await db.delete(idempotencyKeys).where(claimedFor(tenantId, key, responseId));
}

/** Whether `key` is claimed and unexpired, for any response: a create sent with it is a retry. */
export async function idempotencyKeyInUse(db: Db, tenantId: string, key: string): Promise<boolean> {
  const now = Math.floor(Date.now() / 1000);
  const held = await db
    .select({ key: idempotencyKeys.key })
    .from(idempotencyKeys)
    .where(
      and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, key), gt(idempotencyKeys.expiresAt, now)),
    )
    .limit(1);
  return held.length > 0;
}

/** Whether `key` is still claimed for `responseId`: an attempt answered with an error frees it. */
export async function idempotencyKeyHeldFor(
  db: Db,
  claim: { tenantId: string; key: string; responseId: string },
): Promise<boolean> {
  const held = await db
    .select({ key: idempotencyKeys.key })
    .from(idempotencyKeys)
    .where(claimedFor(claim.tenantId, claim.key, claim.responseId))
    .limit(1);
  return held.length > 0;
}

/**
 * Marks the keys of deleted responses (of these tenants, with these ids), so a retry is told it was
 * deleted instead of making it again; with `guard`, only while it holds (a DELETE's batch: while the
 * tenant's response row exists).
 */
export function markKeysDeleted(
  db: Db,
  tenantIds: readonly string[],
  responseIds: readonly string[],
  guard?: SQL,
): Statement {
  return db
    .update(idempotencyKeys)
    .set({ deletedAt: Math.floor(Date.now() / 1000) })
    .where(and(inArray(idempotencyKeys.tenantId, tenantIds), inArray(idempotencyKeys.responseId, responseIds), guard));
}

/**
 * Takes over a key whose first attempt died before writing its response (claimed by `stale`, whose
 * row never appeared): one conditional statement, so of two racing retries one takes it.
 */
export async function takeOverIdempotencyKey(
  db: Db,
  claim: { tenantId: string; key: string; staleResponseId: string; responseId: string },
): Promise<boolean> {
  const taken = await db
    .update(idempotencyKeys)
    .set({ responseId: claim.responseId, createdAt: Math.floor(Date.now() / 1000) })
    .where(claimedFor(claim.tenantId, claim.key, claim.staleResponseId))
    .returning({ key: idempotencyKeys.key });
  return taken.length > 0;
}

/**
 * Renews the claim of an attempt still preparing its run (its response row not written yet: for a
 * key not yet accepted, not before its upstream call answers), so that a retry does not take the
 * key over while it is alive. Answers false once there is nothing to renew: the row exists, or the key is no
 * longer this attempt's.
 */
export async function renewIdempotencyClaim(
  db: Db,
  claim: { tenantId: string; key: string; responseId: string },
): Promise<boolean> {
  const row = db
    .select({ id: responses.id })
    .from(responses)
    .where(and(eq(responses.tenantId, claim.tenantId), eq(responses.id, claim.responseId)));
  const renewed = await db
    .update(idempotencyKeys)
    .set({ createdAt: Math.floor(Date.now() / 1000) })
    .where(and(claimedFor(claim.tenantId, claim.key, claim.responseId), notExists(row)))
    .returning({ key: idempotencyKeys.key });
  return renewed.length > 0;
}

/**
 * Deletes expired keys of every tenant, at most `limit` of them when given (for the scheduled
 * retention job; a key is also replaced in place when it is reused after expiry). Returns how many
 * were deleted.
 */
export async function deleteExpiredIdempotencyKeys(
  db: Db,
  now = Math.floor(Date.now() / 1000),
  limit?: number,
): Promise<number> {
  const expired = lte(idempotencyKeys.expiresAt, now);
  // The table is WITHOUT ROWID: a bounded delete picks its rows by their primary key.
  const where =
    limit === undefined
      ? expired
      : sql`(${idempotencyKeys.tenantId}, ${idempotencyKeys.key}) IN (${db
          .select({ tenantId: idempotencyKeys.tenantId, key: idempotencyKeys.key })
          .from(idempotencyKeys)
          .where(expired)
          .limit(limit)})`;
  const result = await db.delete(idempotencyKeys).where(where);
  return result.meta.changes;
}
