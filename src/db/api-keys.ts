// D1 queries on gateway keys: only their SHA-256 is stored. Used by keys-mode authentication
// (lookup by hash, which finds the tenant; last use) and the admin API (create, list, revoke),
// which acts across tenants; writes name the key's tenant.

import { and, asc, eq, isNull, lt, or } from "drizzle-orm";
import type { Db } from "./client";
import { apiKeys } from "./schema";

export type ApiKeyRow = typeof apiKeys.$inferSelect;

/** `last_used_at` is written at most this often per key: a write per request would cost more than the request. */
export const LAST_USED_RESOLUTION_SECONDS = 60;

export async function insertApiKey(db: Db, row: ApiKeyRow): Promise<void> {
  await db.insert(apiKeys).values(row);
}

/** The live (not revoked) key with this hash. */
export async function findLiveKeyByHash(db: Db, keyHash: string): Promise<ApiKeyRow | undefined> {
  return db.query.apiKeys.findFirst({ where: and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)) });
}

/** Records a use, unless one was recorded within the resolution (the condition makes it cheap to repeat). */
export async function touchApiKey(db: Db, key: ApiKeyRow, now: number): Promise<void> {
  const stale = now - LAST_USED_RESOLUTION_SECONDS;
  await db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(
      and(
        eq(apiKeys.id, key.id),
        eq(apiKeys.tenantId, key.tenantId),
        or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, stale)),
      ),
    );
}

export async function listApiKeys(db: Db, tenantId: string): Promise<ApiKeyRow[]> {
  return db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.tenantId, tenantId))
    .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
}

export async function findApiKey(db: Db, id: string): Promise<ApiKeyRow | undefined> {
  return db.query.apiKeys.findFirst({ where: eq(apiKeys.id, id) });
}

/** Revokes a key (idempotent: the first revocation time is kept). */
export async function revokeApiKey(db: Db, key: ApiKeyRow, now: number): Promise<ApiKeyRow> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(eq(apiKeys.id, key.id), eq(apiKeys.tenantId, key.tenantId), isNull(apiKeys.revokedAt)))
    .returning();
  return row ?? key;
}
