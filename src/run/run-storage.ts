// The background Durable Object's own SQLite, used only when it must be: a run writes nothing here
// while it goes well (D1 is its record). It holds a small key-value state (the run's end while its
// webhooks are due, or an end D1 refused, with the events D1 does not have yet) and the webhook
// outbox. Tables are created on the first write; `wipe` deletes everything. Used by ResponseRun.

import { MAX_PART_CHARS, splitText } from "../db/split";
import { OUTBOX_TABLES } from "../webhooks/outbox";

/** Versioned schema of the object's SQLite; add a step at the end to migrate. */
const MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS state (key TEXT NOT NULL, part INTEGER NOT NULL, value TEXT NOT NULL, PRIMARY KEY (key, part))`,
  // The webhook outbox (src/webhooks/outbox.ts): two steps, in this order.
  ...OUTBOX_TABLES,
];

export class RunStorage {
  readonly #sql: SqlStorage;
  #ready: boolean | undefined;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** Whether the object has any storage (an object that never needed it has none). */
  exists(): boolean {
    this.#ready ??=
      this.#sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`).toArray().length >
      0;
    return this.#ready;
  }

  /** Creates or migrates the schema; call before the first write (idempotent). */
  ensure(): void {
    if (this.#ready === true) return;
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`);
    const row = this.#sql.exec<{ version: number }>(`SELECT version FROM schema_version`).toArray()[0];
    const current = row?.version ?? 0;
    for (let step = current; step < MIGRATIONS.length; step++) this.#sql.exec(MIGRATIONS[step] ?? "");
    if (row === undefined) this.#sql.exec(`INSERT INTO schema_version (version) VALUES (?)`, MIGRATIONS.length);
    else if (current < MIGRATIONS.length) this.#sql.exec(`UPDATE schema_version SET version = ?`, MIGRATIONS.length);
    this.#ready = true;
  }

  get<T>(key: string): T | undefined {
    if (!this.exists()) return undefined;
    const rows = this.#sql
      .exec<{ value: string }>(`SELECT value FROM state WHERE key = ? ORDER BY part`, key)
      .toArray();
    return rows.length === 0 ? undefined : (JSON.parse(rows.map((row) => row.value).join("")) as T);
  }

  /** Stores `value` as JSON, split over rows when large (a row holds at most 2 MB); `undefined` removes it. */
  set(key: string, value: unknown): void {
    if (value === undefined && !this.exists()) return;
    this.ensure();
    this.#sql.exec(`DELETE FROM state WHERE key = ?`, key);
    if (value === undefined) return;
    const parts = splitText(JSON.stringify(value), MAX_PART_CHARS);
    for (let part = 0; part < parts.length; part++)
      this.#sql.exec(`INSERT INTO state (key, part, value) VALUES (?, ?, ?)`, key, part, parts[part] ?? "");
  }

  /** Forgets everything (the caller also deletes the alarm). */
  forget(): void {
    this.#ready = false;
  }
}
