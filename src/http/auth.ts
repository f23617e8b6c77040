// Who is calling: the tenant a request acts for and the key sent upstream. In pass-through mode
// the client's bearer key goes upstream and the tenant is a hash of it, so each key sees only
// its own history. Used by every /v1 route.

import { ApiError } from "../errors";

export interface Caller {
  tenantId: string;
  /** Managed key id (keys mode); null in pass-through mode. */
  apiKeyId: string | null;
  /** Key for the upstream: the client's own in pass-through mode. */
  upstreamKey: string | null;
}

export const MISSING_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.";

/** The bearer token of a request, or null. */
export function bearerToken(request: Request): string | null {
  const header = request.headers.get("authorization");
  if (header === null) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  let hex = "";
  for (const byte of new Uint8Array(digest)) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** The caller of a /v1 request (pass-through mode: the client's bearer key). */
export async function authenticate(request: Request, _env: Env): Promise<Caller> {
  return passthroughCaller(request);
}

async function passthroughCaller(request: Request): Promise<Caller> {
  const key = bearerToken(request);
  if (key === null) throw new ApiError(401, MISSING_KEY_MESSAGE);
  return { tenantId: `t_${(await sha256Hex(`tenant:${key}`)).slice(0, 32)}`, apiKeyId: null, upstreamKey: key };
}
