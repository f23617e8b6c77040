// What every route handler receives: the request, bindings, configuration and request id.

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
