// GET /v1/models: the models a client can ask for, in OpenAI's list shape: the configured routes'
// model patterns, then the default upstream's own list (its `/models`, asked with the key a create
// would send), less the models a route takes over. An upstream that lists nothing adds nothing.

import { ApiError } from "../errors";
import { authenticate } from "../http/auth";
import { logUpstreamFailure } from "../observe/upstream-call";
import { isPlainObject } from "../responses/validation";
import { redactErrorBody } from "../upstream/client";
import {
  connectionFailure,
  hostOf,
  operatorKeyRefused,
  timedOut,
  unreachable,
  upstreamHttpError,
} from "../upstream/errors";
import { readRoutes, type ResolvedRoute } from "../upstream/routes";
import { json, type RouteContext } from "./context";

export interface ModelObject {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

/** Bytes read from an upstream's model list; OpenAI's is about 30 KB. */
const MAX_MODEL_LIST_BYTES = 4 * 1024 * 1024;
/** Statuses of an upstream that has no model list (Ollama's native API, some proxies): not an error. */
const NO_LIST_STATUSES = new Set([404, 405, 501]);

async function readCapped(response: Response): Promise<string | null> {
  const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
  if (reader === undefined) return "";
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    text += decoder.decode(value, { stream: true });
    if (text.length > MAX_MODEL_LIST_BYTES) {
      await reader.cancel();
      return null;
    }
  }
}

/**
 * The default upstream's models, or [] when it does not list them; its refusals reach the client, as
 * on a create: a 401 or 403 to the gateway's own key (`callersKey` false) is not the caller's fault.
 */
async function upstreamModels(route: RouteContext, key: string | null, callersKey: boolean): Promise<ModelObject[]> {
  const { baseUrl } = route.config.upstream;
  const timeoutMs = route.config.firstByteTimeoutMs;
  const headers: Record<string, string> = { accept: "application/json", "x-client-request-id": route.requestId };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/models`, { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const timeout = error instanceof DOMException && error.name === "TimeoutError";
    logUpstreamFailure(baseUrl, timeout ? "first_byte_timeout" : error, { request_id: route.requestId });
    if (timeout) throw timedOut(hostOf(baseUrl), timeoutMs);
    throw unreachable(hostOf(baseUrl), connectionFailure(error, baseUrl));
  }
  if (NO_LIST_STATUSES.has(response.status)) {
    await response.body?.cancel();
    return [];
  }
  const text = await readCapped(response);
  if (!response.ok) logUpstreamFailure(baseUrl, response.status, { request_id: route.requestId });
  if (!response.ok) {
    const error = upstreamHttpError(response.status, redactErrorBody(text ?? "", key), response.headers);
    throw (error.status === 401 || error.status === 403) && !callersKey
      ? operatorKeyRefused(hostOf(baseUrl), error)
      : error;
  }
  let parsed: unknown = null;
  try {
    parsed = text === null ? null : JSON.parse(text);
  } catch {
    // Logged below: a 2xx that is not a model list.
  }
  const data = isPlainObject(parsed) ? parsed.data : undefined;
  if (!Array.isArray(data)) {
    logUpstreamFailure(baseUrl, "its /models answer is not a model list; ignored", { request_id: route.requestId });
    return [];
  }
  return data.filter(isPlainObject).flatMap((entry) =>
    typeof entry.id === "string" && entry.id !== ""
      ? [
          {
            id: entry.id,
            object: "model" as const,
            created: typeof entry.created === "number" ? entry.created : 0,
            owned_by: typeof entry.owned_by === "string" ? entry.owned_by : "upstream",
          },
        ]
      : [],
  );
}

/** A route's pattern as a model entry; `owned_by` names the server it goes to (never its key). */
const routeModel = (route: ResolvedRoute): ModelObject => ({
  id: route.pattern,
  object: "model",
  created: 0,
  owned_by: new URL(route.baseUrl).host,
});

export async function listModels(route: RouteContext): Promise<Response> {
  const caller = await authenticate(route.request, route.env, route.ctx);
  const routes = readRoutes(route.config.routes);
  if (!routes.ok)
    throw new ApiError(503, `The gateway's upstream routing table is invalid: ${routes.problem}`, {
      type: "server_error",
      code: "upstream_misconfigured",
      headers: { "x-should-retry": "false" },
    });
  const listed = await upstreamModels(
    route,
    caller.upstreamKey ?? route.config.upstream.apiKey,
    caller.upstreamKey !== null,
  );
  const data: ModelObject[] = [];
  const seen = new Set<string>();
  const add = (model: ModelObject) => {
    if (seen.has(model.id)) return;
    seen.add(model.id);
    data.push(model);
  };
  routes.routes.map(routeModel).forEach(add);
  // A default-upstream model that a route matches is served by that route, not by the default upstream.
  listed.filter((model) => !routes.routes.some((r) => r.matcher.test(model.id))).forEach(add);
  return json({ object: "list", data });
}
