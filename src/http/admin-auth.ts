// Guards the admin API (`/admin/...`): `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant
// time. Without an `ADMIN_TOKEN` secret the admin API does not exist: every path answers OpenAI's
// 404 for an unknown URL, so a deployment that never set it exposes nothing. Used by the router.

import { ApiError, invalidUrl } from "../errors";
import { hashGatewayKey, sameDigest } from "../tenancy/gateway-keys";
import type { RouteContext } from "../routes/context";
import { bearerToken } from "./auth";

type Handler = (route: RouteContext) => Promise<Response>;

const invalidAdminToken = () =>
  new ApiError(401, "Invalid admin token: send 'Authorization: Bearer <ADMIN_TOKEN>'.", {
    type: "invalid_request_error",
    code: "invalid_api_key",
  });

export async function checkAdmin({ request, config }: RouteContext): Promise<void> {
  if (config.adminToken === null) throw invalidUrl(request);
  const token = bearerToken(request);
  // Digests have one length, so the comparison time says nothing about the token's length either.
  if (token === null || !sameDigest(await hashGatewayKey(token), await hashGatewayKey(config.adminToken)))
    throw invalidAdminToken();
}

/** Wraps an admin handler with the token check. */
export const adminOnly =
  (handler: Handler): Handler =>
  async (route) => {
    await checkAdmin(route);
    return handler(route);
  };
