// The Durable Object's own storage for one response: its event log (SSE frames by sequence number,
// split over parts when large) and a small key-value record of the run's state. SQLite writes are
// synchronous and durable before any output leaves the object (output gates).

import { MAX_PART_CHARS, splitText } from "../db/split";

/** Bound parameters per statement (SQLite in a Durable Object takes at most 100). */
const MAX_BOUND_PARAMETERS = 98;
import { OUTBOX_TABLES } from "../webhooks/outbox";

/** Versioned schema of the DO's SQLite; add a step at the end to migrate. */
const MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS events (seq INTEGER NOT NULL, part INTEGER NOT NULL, frame TEXT NOT NULL, PRIMARY KEY (seq, part))`,
  `CREATE TABLE IF NOT EXISTS state (key TEXT NOT NULL, part INTEGER NOT NULL, value TEXT NOT NULL, PRIMARY KEY (key, part))`,
  // The webhook outbox (src/webhooks/outbox.ts): two steps, in this order.
  ...OUTBOX_TABLES,
];

export class EventLog {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** Whether this object's storage holds the schema (an object that never ran a response has none). */
  exists(): boolean {
    return (
      this.#sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`).toArray().length >
      0
    );
  }

  /** Runs pending schema steps; call under `blockConcurrencyWhile` in the constructor. */
  migrate(): void {
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`);
    const row = this.#sql.exec<{ version: number }>(`SELECT version FROM schema_version`).toArray()[0];
    const current = row?.version ?? 0;
    for (let step = current; step < MIGRATIONS.length; step++) this.#sql.exec(MIGRATIONS[step] ?? "");
    if (row === undefined) this.#sql.exec(`INSERT INTO schema_version (version) VALUES (?)`, MIGRATIONS.length);
    else if (current < MIGRATIONS.length) this.#sql.exec(`UPDATE schema_version SET version = ?`, MIGRATIONS.length);
  }

  append(seq: number, frame: string): void {
    const parts = splitText(frame);
    for (let part = 0; part < parts.length; part++)
      this.#sql.exec(`INSERT OR REPLACE INTO events (seq, part, frame) VALUES (?, ?, ?)`, seq, part, parts[part] ?? "");
  }

  /** Appends a batch of events with multi-row inserts: one statement for many events, not one each. */
  appendMany(entries: readonly { seq: number; frame: string }[]): void {
    let values: (string | number)[] = [];
    const flush = () => {
      if (values.length === 0) return;
      const rows = new Array<string>(values.length / 2).fill("(?, 0, ?)").join(", ");
      this.#sql.exec(`INSERT OR REPLACE INTO events (seq, part, frame) VALUES ${rows}`, ...values);
      values = [];
    };
    for (const { seq, frame } of entries) {
      if (frame.length > MAX_PART_CHARS) {
        flush();
        this.append(seq, frame);
        continue;
      }
      values.push(seq, frame);
      if (values.length >= MAX_BOUND_PARAMETERS) flush();
    }
    flush();
  }

  /** Frames with `from <= seq <= to`, in order. */
  read(from: number, to: number): string[] {
    const frames: string[] = [];
    let seq = -1;
    for (const row of this.#sql.exec<{ seq: number; frame: string }>(
      `SELECT seq, frame FROM events WHERE seq >= ? AND seq <= ? ORDER BY seq, part`,
      from,
      to,
    )) {
      if (row.seq === seq) frames[frames.length - 1] += row.frame;
      else frames.push(row.frame);
      seq = row.seq;
    }
    return frames;
  }

  /** The highest recorded sequence number, or -1. */
  lastSeq(): number {
    const row = this.#sql.exec<{ seq: number | null }>(`SELECT MAX(seq) AS seq FROM events`).toArray()[0];
    return row?.seq ?? -1;
  }

  getState<T>(key: string): T | undefined {
    const rows = this.#sql
      .exec<{ value: string }>(`SELECT value FROM state WHERE key = ? ORDER BY part`, key)
      .toArray();
    return rows.length === 0 ? undefined : (JSON.parse(rows.map((row) => row.value).join("")) as T);
  }

  /** Forgets the run (its events and state), keeping other tables such as the webhook outbox. */
  clearRun(): void {
    this.#sql.exec(`DELETE FROM events`);
    this.#sql.exec(`DELETE FROM state`);
  }

  /** Stores `value` as JSON, split over rows when large; `undefined` removes it. */
  setState(key: string, value: unknown): void {
    this.#sql.exec(`DELETE FROM state WHERE key = ?`, key);
    if (value === undefined) return;
    const parts = splitText(JSON.stringify(value));
    for (let part = 0; part < parts.length; part++)
      this.#sql.exec(`INSERT INTO state (key, part, value) VALUES (?, ?, ?)`, key, part, parts[part] ?? "");
  }
}
