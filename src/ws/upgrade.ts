// `GET /v1/responses` with `Upgrade: websocket`: WebSocket mode. The handshake is authenticated and
// rate limited like a POST (a refused key gets a plain HTTP 401 in OpenAI's envelope); `WEBSOCKETS=off`
// answers 426, which makes Codex use HTTP at once. Used by the router, before the list route.

import type { IRequest } from "itty-router";
import { refuseIfMisconfigured } from "../config";
import { ApiError } from "../errors";
import { authenticate } from "../http/auth";
import type { RouteContext } from "../routes/context";
import type { GatewayFetch } from "./run-turn";
import { acceptInWorker } from "./worker-owner";

export const isWebSocketUpgrade = (request: Request): boolean =>
  request.headers.get("upgrade")?.trim().toLowerCase() === "websocket";

/** Runs `handler` for an upgrade; any other request goes on to the next handler of the route. */
export const upgradesOnly =
  <Args extends unknown[]>(handler: (request: IRequest, ...args: Args) => Promise<Response>) =>
  (request: IRequest, ...args: Args): Promise<Response> | undefined =>
    isWebSocketUpgrade(request) ? handler(request, ...args) : undefined;

/** The handshake's headers that internal requests carry: the credentials, nothing else. */
function credentialsOf(request: Request): Headers {
  const headers = new Headers();
  const authorization = request.headers.get("authorization");
  if (authorization !== null) headers.set("authorization", authorization);
  return headers;
}

/** `handle` is the Worker's own fetch handler, which runs each `response.create` as a `POST /v1/responses`. */
export const openResponsesSocket =
  (handle: (request: Request, env: Env, ctx: ExecutionContext) => Promise<Response>) =>
  async ({ request, env, ctx, config, requestId }: RouteContext): Promise<Response> => {
    refuseIfMisconfigured(config, "WebSocket upgrades");
    if (config.websockets === "off")
      throw new ApiError(
        426,
        "WebSocket mode is turned off on this gateway. Use HTTP: POST /v1/responses with stream: true.",
        { code: "websockets_disabled" },
      );
    await authenticate(request, env, ctx);
    const gateway: GatewayFetch = (internal) => handle(internal, env, ctx);
    return acceptInWorker(
      {
        gateway,
        origin: new URL(request.url),
        credentials: credentialsOf(request),
        maxFrameBytes: config.maxBodyBytes,
        maxConnectionMs: config.websocketMaxConnectionMs,
      },
      requestId,
    );
  };
