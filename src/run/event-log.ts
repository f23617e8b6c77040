// The Durable Object's own storage for one response: its event log (SSE frames by sequence number,
// split over parts when large) and a small key-value record of the run's state. SQLite writes are
// synchronous and durable before any output leaves the object (output gates).

import { splitText } from "../db/split";

/** Versioned schema of the DO's SQLite; bump and add a step to migrate. */
const MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS events (seq INTEGER NOT NULL, part INTEGER NOT NULL, frame TEXT NOT NULL, PRIMARY KEY (seq, part))`,
  `CREATE TABLE IF NOT EXISTS state (key TEXT NOT NULL, part INTEGER NOT NULL, value TEXT NOT NULL, PRIMARY KEY (key, part))`,
];

export class EventLog {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
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

  /** Stores `value` as JSON, split over rows when large; `undefined` removes it. */
  setState(key: string, value: unknown): void {
    this.#sql.exec(`DELETE FROM state WHERE key = ?`, key);
    if (value === undefined) return;
    const parts = splitText(JSON.stringify(value));
    for (let part = 0; part < parts.length; part++)
      this.#sql.exec(`INSERT INTO state (key, part, value) VALUES (?, ?, ?)`, key, part, parts[part] ?? "");
  }
}
