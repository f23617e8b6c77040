// The whole HTTP surface on one screen. Handlers parse, validate and delegate; every error leaves
// through `errorResponse` in OpenAI's envelope, and every response carries an `x-request-id`.

import { Router, type IRequest } from "itty-router";
import { readConfig } from "./config";
import { ApiError, errorResponse, internalError } from "./errors";
import { newId } from "./responses/ids";
import { cancelResponse } from "./routes/cancel-response";
import type { RouteContext } from "./routes/context";
import { createResponse } from "./routes/create-response";
import { deleteResponse } from "./routes/delete-response";
import { listInputItems } from "./routes/list-input-items";
import { retrieveResponse } from "./routes/retrieve-response";

type Handler = (route: RouteContext) => Promise<Response>;
type Args = [env: Env, ctx: ExecutionContext, requestId: string];

const route =
  (handler: Handler) =>
  (request: IRequest, env: Env, ctx: ExecutionContext, requestId: string): Promise<Response> =>
    handler({ request, env, ctx, requestId, config: readConfig(env) });

const router = Router<IRequest, Args>()
  .post("/v1/responses", route(createResponse))
  .get("/v1/responses/:id", route(retrieveResponse))
  .delete("/v1/responses/:id", route(deleteResponse))
  .post("/v1/responses/:id/cancel", route(cancelResponse))
  .get("/v1/responses/:id/input_items", route(listInputItems));

function invalidUrl(request: Request): ApiError {
  const url = new URL(request.url);
  return new ApiError(404, `Invalid URL (${request.method} ${url.pathname})`, { type: "invalid_request_error" });
}

/** Adds the request id to a response, copying it when its headers are immutable. */
function withRequestId(response: Response, requestId: string): Response {
  try {
    response.headers.set("x-request-id", requestId);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    copy.headers.set("x-request-id", requestId);
    return copy;
  }
}

export async function handle(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const requestId = newId("req").slice(0, 36);
  try {
    const response = (await router.fetch(request, env, ctx, requestId)) as Response | undefined;
    return withRequestId(response ?? errorResponse(invalidUrl(request), requestId), requestId);
  } catch (error) {
    if (error instanceof ApiError) return errorResponse(error, requestId);
    console.error(
      `request ${requestId} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    return errorResponse(internalError(), requestId);
  }
}
