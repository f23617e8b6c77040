// The one place OpenAI's error envelope is built: `{"error":{message,type,param,code}}`.
// Used by every route, the upstream adapters (to map upstream failures) and the router's catch-all.

export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "server_error"
  | (string & {});

export interface ErrorBody {
  message: string;
  type: ErrorType;
  param: string | null;
  code: string | null;
}

/** An error the client is meant to see, with the HTTP status it is sent with. */
export class ApiError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;
  /** The upstream's own error answer, passed on (its status and envelope), not one the gateway made. */
  readonly fromUpstream: boolean;

  constructor(
    status: number,
    message: string,
    options: {
      type?: ErrorType;
      param?: string | null;
      code?: string | null;
      headers?: Record<string, string>;
      fromUpstream?: boolean;
    } = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.type = options.type ?? defaultType(status);
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
    this.fromUpstream = options.fromUpstream ?? false;
  }

  /** This error with another message or param; its status, type, code, headers and origin kept. */
  with(changes: { message?: string; param?: string | null }): ApiError {
    return new ApiError(this.status, changes.message ?? this.message, {
      type: this.type,
      param: changes.param === undefined ? this.param : changes.param,
      code: this.code,
      headers: this.headers,
      fromUpstream: this.fromUpstream,
    });
  }

  body(): { error: ErrorBody } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

function defaultType(status: number): ErrorType {
  if (status === 401) return "invalid_request_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null): ApiError =>
  new ApiError(400, message, { param, code });

/**
 * Errors that say the caller's own history has no such id. In pass-through mode a refused key's
 * tenant (a hash of the key) has no history at all, so the router answers such a miss with the
 * key's refusal instead (src/http/key-acceptance.ts refusalBehindMiss), as OpenAI answers a wrong
 * key 401 whatever it asked for.
 */
const historyMisses = new WeakSet<ApiError>();

export function historyMiss(error: ApiError): ApiError {
  historyMisses.add(error);
  return error;
}

export const isHistoryMiss = (error: ApiError): boolean => historyMisses.has(error);

export const responseNotFound = (id: string): ApiError =>
  historyMiss(new ApiError(404, `Response with id '${id}' not found.`, { param: null, code: null }));

export const conversationNotFound = (id: string, param: string | null = null): ApiError =>
  historyMiss(new ApiError(404, `Conversation with id '${id}' not found.`, { param, code: null }));

/** OpenAI's 404 for a path it does not serve (and for the admin API when it is not enabled). */
export const invalidUrl = (request: Request): ApiError =>
  new ApiError(404, `Invalid URL (${request.method} ${new URL(request.url).pathname})`);

/** A plain 500 that says nothing about internals; the cause is logged, never sent. */
export const internalError = (): ApiError =>
  new ApiError(500, "The server had an error while processing your request. Sorry about that!", {
    type: "server_error",
  });

/** D1 failed a query the request needed: a retryable 503 that names no query (`message` may say what was lost). */
export const storageUnavailable = (message = "The gateway's storage is unavailable right now; try again."): ApiError =>
  new ApiError(503, message, {
    type: "server_error",
    code: "storage_unavailable",
    headers: { "retry-after": "1" },
  });

/**
 * D1 lacks a table or column this version needs: the operator's to fix (apply the migrations), so
 * a 500 that says so and stops the SDKs' retries, not a 503 that asks the client to try again.
 */
export const storageNotMigrated = (): ApiError =>
  new ApiError(
    500,
    "The gateway's database is missing tables or columns this version needs. Its operator must apply the migrations: npx wrangler d1 migrations apply DB --remote (every D1 shard).",
    { type: "server_error", code: "database_not_migrated", headers: { "x-should-retry": "false" } },
  );

/**
 * A wrong setting, not the request: names each setting at fault. `x-should-retry: false` stops the
 * SDKs' automatic retries, which would only repeat it.
 */
export const gatewayMisconfigured = (problems: readonly string[]): ApiError =>
  new ApiError(500, `The gateway is misconfigured: ${problems.join(" ")} Its operator must correct this.`, {
    type: "server_error",
    code: "gateway_misconfigured",
    headers: { "x-should-retry": "false" },
  });

/** Builds the JSON error response; `requestId` is echoed in `x-request-id`. */
export function errorResponse(error: ApiError, requestId: string): Response {
  return new Response(JSON.stringify(error.body()), {
    status: error.status,
    headers: { "content-type": "application/json", "x-request-id": requestId, ...error.headers },
  });
}
