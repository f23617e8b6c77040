// Keys mode: the client presents a gateway key (`sk-gw-…`); the gateway finds it by its SHA-256,
// checks it is not revoked, and acts for its tenant. Upstream keys stay in Worker secrets.
// Used by `authenticate` when `AUTH_MODE=keys`.

import { findLiveKeyByHash, LAST_USED_RESOLUTION_SECONDS, touchApiKey } from "../db/api-keys";
import { controlDb } from "../db/shards";
import { ApiError } from "../errors";
import { logD1Problem } from "../observe/problems";
import { hashGatewayKey, maskKey, sameDigest } from "../tenancy/gateway-keys";

export interface ManagedCaller {
  tenantId: string;
  apiKeyId: string;
}

/** OpenAI's 401 for a wrong key, with the key masked; unknown and revoked keys answer alike. */
export const incorrectKey = (key: string): ApiError =>
  new ApiError(401, `Incorrect API key provided: ${maskKey(key)}. Ask the operator of this gateway for a valid key.`, {
    type: "invalid_request_error",
    code: "invalid_api_key",
  });

export async function managedCaller(key: string, env: Env, ctx: ExecutionContext | undefined): Promise<ManagedCaller> {
  const db = controlDb(env);
  const hash = await hashGatewayKey(key);
  const row = await findLiveKeyByHash(db, hash);
  if (row === undefined || !sameDigest(row.keyHash, hash)) throw incorrectKey(key);
  const now = Math.floor(Date.now() / 1000);
  if (ctx !== undefined && (row.lastUsedAt === null || row.lastUsedAt < now - LAST_USED_RESOLUTION_SECONDS))
    ctx.waitUntil(
      touchApiKey(db, row, now).catch((error: unknown) =>
        logD1Problem({ tenant: row.tenantId, key_id: row.id }, "the key's last use was not recorded", error, {
          attempt: 1,
          of: 1,
        }),
      ),
    );
  return { tenantId: row.tenantId, apiKeyId: row.id };
}
