// The console's only way to the gateway: same-origin fetches with the signed-in bearer token, errors
// read from OpenAI's envelope. Tenant sign-ins call /v1/...; the operator calls /admin/... where the
// gateway has an admin twin of a route (responses), and /admin/usage for usage.

import type { Session } from "./session";

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

export interface List<T> {
  object: "list";
  data: T[];
  first_id?: string | null;
  last_id?: string | null;
  has_more: boolean;
}

async function failure(response: Response): Promise<ApiFailure> {
  try {
    const body = (await response.json()) as { error?: { message?: string; param?: string | null } };
    if (typeof body.error?.message === "string")
      return new ApiFailure(response.status, body.error.message, body.error.param ?? null);
  } catch {
    // Not the envelope: say what the status was.
  }
  return new ApiFailure(response.status, `The gateway answered HTTP ${response.status}.`);
}

/** Told when the gateway refuses a session's token (401): a key revoked since sign-in, a changed admin token. */
let refused: (session: Session, failure: ApiFailure) => void = () => undefined;

/** The app ends the session there: a refused token would only show the same error on every view. */
export function onRefused(handler: (session: Session, failure: ApiFailure) => void): void {
  refused = handler;
}

/** Sends a same-origin request (relative path only) with the session's token. */
export async function send(session: Session, path: string, init: RequestInit = {}): Promise<Response> {
  if (!path.startsWith("/")) throw new Error("same-origin paths only");
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${session.token}`);
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers, credentials: "omit", cache: "no-store" });
  } catch {
    throw new ApiFailure(0, "The gateway could not be reached.");
  }
  if (!response.ok) {
    const error = await failure(response);
    if (response.status === 401) refused(session, error);
    throw error;
  }
  return response;
}

export async function getJson<T>(session: Session, path: string): Promise<T> {
  return (await send(session, path)).json() as Promise<T>;
}

export async function postJson<T>(session: Session, path: string): Promise<T> {
  return (await send(session, path, { method: "POST" })).json() as Promise<T>;
}

/** Where a session reads responses: its own (`/v1`) or every tenant's (`/admin`). */
export const responsesPath = (session: Session): string =>
  session.mode === "admin" ? "/admin/responses" : "/v1/responses";

export const usagePath = (session: Session): string => (session.mode === "admin" ? "/admin/usage" : "/v1/usage");

/** A query string from the defined, non-empty values. */
export function query(values: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values))
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}
