// Webhook receivers on the mock server (see test/node/mock-upstream.ts): URLs that pick a scenario,
// what each received, and a way to wait for deliveries without sleeping blindly.

import { env } from "cloudflare:workers";

const MOCK_ORIGIN = env.UPSTREAM_BASE_URL.replace(/\/v1$/, "");

/** The deployment default receiver (WEBHOOK_URL in vitest.config.ts) and its secret. */
export const DEFAULT_HOOK_URL = (env as unknown as { WEBHOOK_URL: string }).WEBHOOK_URL;
export const DEFAULT_HOOK_SECRET = (env as unknown as { WEBHOOK_SECRET: string }).WEBHOOK_SECRET;

/** A fresh receiver: `ok`, `fail:N`, `status:CODE`, `redirect`, `hold-fail:N`, `retry-after:S`, `retry-at:S`. */
export const hookUrl = (scenario: string): string => `${MOCK_ORIGIN}/__hooks/${scenario}/${crypto.randomUUID()}`;

export interface ReceivedHook {
  headers: Record<string, string>;
  body: string;
  at: number;
}

const nameOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice("/__hooks/".length));

export async function received(url: string): Promise<ReceivedHook[]> {
  return (await fetch(`${MOCK_ORIGIN}/__mock/hooks?name=${encodeURIComponent(nameOf(url))}`)).json<ReceivedHook[]>();
}

/** Lets `hold-fail` requests answer. */
export async function releaseHook(url: string): Promise<void> {
  await (
    await fetch(`${MOCK_ORIGIN}/__mock/release?model=${encodeURIComponent(nameOf(url))}`, { method: "POST" })
  ).text();
}

/** Polls observable state until `done` holds (or fails after `timeoutMs`). */
export async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Waits until `url` received at least `count` requests. */
export const receivedAtLeast = (url: string, count: number, timeoutMs?: number): Promise<ReceivedHook[]> =>
  until(
    () => received(url),
    (list) => list.length >= count,
    `${count} webhook(s) at ${url}`,
    timeoutMs,
  );
