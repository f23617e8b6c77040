// A response's Durable Object seen from tests: its stub, the tables of its SQLite, its alarm, a reset
// (a deploy or a crash), and edits of its recorded run state that stand in for time passing.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";

export const runStub = (id: string) => env.RESPONSE_RUN.getByName(id);

/** The tables the object's SQLite holds (none once its storage is deleted). */
export const tablesOf = (id: string): Promise<string[]> =>
  runInDurableObject(runStub(id), (_instance, state) =>
    state.storage.sql
      .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'`)
      .toArray()
      .map((row) => row.name),
  );

/** When the object's alarm is due (ms), or null. */
export const alarmOf = (id: string): Promise<number | null> =>
  runInDurableObject(runStub(id), (_instance, state) => state.storage.getAlarm());

/** Drops the object's instance as a deploy or crash would; its storage (log, state, alarm) stays. */
export async function resetInstance(id: string): Promise<void> {
  const error = await runInDurableObject(runStub(id), (_instance, state) => state.abort("simulated reset")).catch(
    (e: unknown) => e,
  );
  expect(String(error)).toContain("simulated reset");
}

/** Rewrites the run's recorded state (`RunState`, e.g. its deadline or end) in the object's SQLite. */
export async function editRunState<T>(id: string, edit: (run: T) => void): Promise<void> {
  await runInDurableObject(runStub(id), (_instance, state) => {
    const row = state.storage.sql.exec<{ value: string }>(`SELECT value FROM state WHERE key = 'run'`).one();
    const run = JSON.parse(row.value) as T;
    edit(run);
    state.storage.sql.exec(`UPDATE state SET value = ? WHERE key = 'run'`, JSON.stringify(run));
  });
}
