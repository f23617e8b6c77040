// Guards the admin API (`/admin/...`): `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant
// time. Without an `ADMIN_TOKEN` secret the admin API does not exist: every path answers OpenAI's
// 404 for an unknown URL, so a deployment that never set it exposes nothing. Used by the router.

import { refuseIfMisconfigured, type GatewayConfig } from "../config";
import { ApiError, invalidUrl } from "../errors";
import { hashGatewayKey, sameDigest } from "../tenancy/gateway-keys";
import { bearerToken } from "./auth";

/** What the check needs of a route's context (src/routes/context.ts). */
export interface AdminRequest {
  request: Request;
  config: GatewayConfig;
}

const invalidAdminToken = () =>
  new ApiError(401, "Invalid admin token: send 'Authorization: Bearer <ADMIN_TOKEN>'.", {
    type: "invalid_request_error",
    code: "invalid_api_key",
  });

export async function checkAdmin({ request, config }: AdminRequest): Promise<void> {
  // A wrong ADMIN_TOKEN (too short) says so rather than hide the admin API as if it were unset.
  refuseIfMisconfigured(config, "the admin API");
  const adminToken = config.adminToken;
  if (adminToken === null) throw invalidUrl(request);
  const token = bearerToken(request);
  // Digests have one length, so the comparison time says nothing about the token's length either.
  if (token === null || !sameDigest(await hashGatewayKey(token), await hashGatewayKey(adminToken)))
    throw invalidAdminToken();
}

/** Wraps an admin handler with the token check. */
export const adminOnly =
  <Route extends AdminRequest>(handler: (route: Route) => Promise<Response>) =>
  async (route: Route): Promise<Response> => {
    await checkAdmin(route);
    return handler(route);
  };
