// The Worker in keys mode (`AUTH_MODE=keys`) with an admin token and an upstream key in its
// secrets, driven through its real fetch handler; helpers to mint tenants and keys via the admin API.

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import OpenAI from "openai";
import worker from "../../src/index";
import { GATEWAY_URL } from "./gateway";

export const ADMIN_TOKEN = "adm-test-SECRET-4f1c2b9e7a";
export const UPSTREAM_KEY = "sk-upstream-SECRET-93b1d7c0e2f4a6";

export type EnvOverrides = Record<string, unknown>;

export function managedEnv(overrides: EnvOverrides = {}): Env {
  return { ...env, AUTH_MODE: "keys", ADMIN_TOKEN, UPSTREAM_API_KEY: UPSTREAM_KEY, ...overrides } as unknown as Env;
}

/**
 * Sends a request to the keys-mode Worker. For a JSON answer it also waits for the request's
 * `waitUntil` work (e.g. recording the key's last use); a stream's work runs while it is read.
 */
export async function managedFetch(
  input: string | URL | Request,
  init?: RequestInit,
  overrides: EnvOverrides = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(input, init), managedEnv(overrides), ctx);
  if (!response.headers.get("content-type")?.startsWith("text/event-stream")) await waitOnExecutionContext(ctx);
  return response;
}

export function managedClient(apiKey: string, overrides: EnvOverrides = {}): OpenAI {
  return new OpenAI({
    apiKey,
    baseURL: GATEWAY_URL,
    fetch: (input, init) => managedFetch(input, init, overrides),
    maxRetries: 0,
  });
}

export const ADMIN_URL = GATEWAY_URL.replace(/\/v1$/, "/admin");

/** Calls the admin API with the admin token; returns the status and parsed body. */
export async function admin<T = Record<string, unknown>>(
  method: string,
  path: string,
  body?: unknown,
  overrides: EnvOverrides = {},
): Promise<{ status: number; body: T }> {
  const response = await managedFetch(
    `${ADMIN_URL}${path}`,
    {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    },
    overrides,
  );
  return { status: response.status, body: await response.json<T>() };
}

export interface MintedKey {
  tenantId: string;
  keyId: string;
  key: string;
}

/** A new tenant with one key. */
export async function newTenantKey(name = "team"): Promise<MintedKey> {
  const tenant = await admin<{ id: string }>("POST", "/tenants", { name });
  const key = await admin<{ id: string; key: string }>("POST", `/tenants/${tenant.body.id}/keys`, {
    name: `${name} key`,
  });
  return { tenantId: tenant.body.id, keyId: key.body.id, key: key.body.key };
}
