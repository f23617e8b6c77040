// A background response's Durable Object seen from tests: its stub (named by tenant and id), the tables
// of its SQLite, its alarm, and a reset (a deploy or a crash).

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { runName } from "../../src/run/response-run";

/** The tenant a pass-through key acts for (src/http/auth.ts). */
export async function tenantOf(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`tenant:${key}`));
  const hex = [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `t_${hex.slice(0, 32)}`;
}

/** The object of response `id` made with pass-through key `key`. */
export const runStub = async (id: string, key = "sk-test-tenant-a") =>
  env.RESPONSE_RUN.getByName(runName(await tenantOf(key), id));

/** The tables the object's SQLite holds (none while it needs no storage). */
export const tablesOf = async (id: string, key?: string): Promise<string[]> =>
  runInDurableObject(await runStub(id, key), (_instance, state) =>
    state.storage.sql
      .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'`)
      .toArray()
      .map((row) => row.name),
  );

/** When the object's alarm is due (ms), or null. */
export const alarmOf = async (id: string, key?: string): Promise<number | null> =>
  runInDurableObject(await runStub(id, key), (_instance, state) => state.storage.getAlarm());

/** Drops the object's instance as a deploy or crash would; its storage (and alarm) stays. */
export async function resetInstance(id: string, key?: string): Promise<void> {
  const error = await runInDurableObject(await runStub(id, key), (_instance, state) =>
    state.abort("simulated reset"),
  ).catch((e: unknown) => e);
  expect(String(error)).toContain("simulated reset");
}
