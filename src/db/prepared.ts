// Statements written for every stored response whose SQL Drizzle builds once per isolate instead of on
// every call: building a response row's 22-column insert and its usage count took about 0.2 ms of CPU,
// a sixth of what a short stored stream costs beyond a store:false one. Drizzle's own prepared
// statements cannot go in a `db.batch` (it binds their placeholders as values), so a batch holding one
// runs on the D1 client directly (`runWrites`), each Drizzle statement in it as its `toSQL()`. Used by
// src/db/responses.ts and src/db/usage.ts for the one write of a stream that ends within its first
// second, and for a store:false response's usage count.

import { fillPlaceholders, type Query } from "drizzle-orm";
import type { Db, Statement } from "./client";
import type { D1Client } from "./routed-client";

/** A statement whose SQL was built once, with its values bound. */
export class BoundStatement {
  constructor(readonly query: Query) {}
}

/** A statement of a `runWrites` batch: a Drizzle statement, or one prepared once. */
export type Write = Statement | BoundStatement;

/** Every statement our query modules batch is a query builder, which states its SQL (`toSQL`). */
const queryOf = (write: Write): Query =>
  write instanceof BoundStatement ? write.query : (write as unknown as { toSQL(): Query }).toSQL();

/**
 * `build` makes the statement with `sql.placeholder(name)` for each value (a BLOB's as
 * `unhex(placeholder)`, bound as hex text); its SQL is built on the first call, with that call's `db`.
 */
export function prepareOnce<V extends Record<string, unknown>>(
  build: (db: Db) => Statement,
): (db: Db, values: V) => BoundStatement {
  let query: Query | undefined;
  return (db, values) => {
    query ??= queryOf(build(db));
    return new BoundStatement({ sql: query.sql, params: fillPlaceholders(query.params, values) });
  };
}

/** The D1 client under each Drizzle client (shards.ts makes both). */
const clients = new WeakMap<Db, D1Client>();

export function noteClient(db: Db, client: D1Client): void {
  clients.set(db, client);
}

/** Runs `writes` as one D1 batch (one transaction, one round trip); the rows each statement answered. */
export async function runWrites(db: Db, writes: readonly Write[]): Promise<unknown[][]> {
  const client = clients.get(db);
  if (client === undefined) throw new Error("runWrites: a Drizzle client not made by src/db/shards.ts");
  const statements = writes.map((write) => {
    const { sql, params } = queryOf(write);
    return client.prepare(sql).bind(...params);
  });
  const results = await client.batch(statements);
  return results.map((result) => result.results ?? []);
}
