// What every route handler receives (the request, bindings, configuration and request id), and the
// helpers every handler uses to read its path and answer JSON.

import type { IRequest } from "itty-router";
import type { GatewayConfig } from "../config";

export interface RouteContext {
  request: IRequest;
  env: Env;
  ctx: ExecutionContext;
  config: GatewayConfig;
  requestId: string;
}

export const json = (value: unknown, status = 200): Response =>
  new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });

/** A decoded path parameter; a malformed percent-encoding is kept as it came (it matches no id). */
export function pathParam(value: string | undefined): string {
  try {
    return decodeURIComponent(value ?? "");
  } catch {
    return value ?? "";
  }
}
