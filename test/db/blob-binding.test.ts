// How BLOB values reach D1: as hex text through SQLite's unhex() up to a size, as bytes past it. Either
// way D1 stores the same BLOB, and it reads back byte for byte, as D1 answers it and through `readBlob`
// (hex); a TEXT value of an older row reads back as the same text.

import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/d1";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Statement } from "../../src/db/client";
import { compressText, readBlob } from "../../src/db/codec";
import { batchStatements } from "../../src/db/event-batches";
import { placeValue, readValue } from "../../src/db/large-values";
import * as schema from "../../src/db/schema";

const db = drizzle(env.DB, { schema });
const { blobs } = schema;

/** Bytes of every value 0..255, repeated and shuffled by a fixed rule, `size` long. */
const bytesOf = (size: number): Uint8Array => Uint8Array.from({ length: size }, (_, i) => (i * 131 + (i >> 8)) & 255);

const toHex = (bytes: Uint8Array): string =>
  [...bytes]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("")
    .toUpperCase();

const sqlOf = (statement: Statement): string => (statement as unknown as { toSQL(): { sql: string } }).toSQL().sql;

async function roundTrip(owner: string, data: Uint8Array) {
  const insert = db.insert(blobs).values({ ownerId: owner, tenantId: "t", name: "v", part: 0, data });
  await insert;
  const stored = await env.DB.prepare(
    "SELECT typeof(data) AS type, length(data) AS length, hex(data) AS hex FROM blobs WHERE owner_id = ?",
  )
    .bind(owner)
    .first<{ type: string; length: number; hex: string }>();
  const [read] = await db
    .select({ data: blobs.data, hex: readBlob(blobs.data) })
    .from(blobs)
    .where(and(eq(blobs.ownerId, owner), eq(blobs.name, "v")));
  expect(read?.hex).toEqual(read?.data);
  return { sql: insert.toSQL(), stored, read: read?.data };
}

describe("BLOB values", () => {
  it("are bound as hex text decoded by unhex(), and D1 keeps the same bytes", async () => {
    const data = bytesOf(4096);
    const { sql, stored, read } = await roundTrip("blob-hex", data);
    expect(sql.sql).toContain("unhex(?)");
    expect(sql.params).toContain(toHex(data).toLowerCase());
    expect(stored).toEqual({ type: "blob", length: 4096, hex: toHex(data) });
    expect(read).toEqual(data);
  });

  it("keep a view's own bytes, not its whole buffer's", async () => {
    const whole = bytesOf(300);
    const view = whole.subarray(100, 164);
    const { stored, read } = await roundTrip("blob-view", view);
    expect(stored).toEqual({ type: "blob", length: 64, hex: toHex(view) });
    expect(read).toEqual(Uint8Array.from(view));
  });

  it("past the hex size are bound as bytes (their hex would pass D1's 2 MB bound-value limit)", async () => {
    const data = bytesOf(1_100_000);
    const { sql, stored, read } = await roundTrip("blob-large", data);
    expect(sql.sql).not.toContain("unhex");
    expect(stored?.type).toBe("blob");
    expect(stored?.length).toBe(1_100_000);
    expect(stored?.hex).toBe(toHex(data));
    expect(read).toEqual(data);
  });

  it("of a split value are all bound as hex: D1's binding expands bytes into an array of numbers", async () => {
    // About 1.7 MB once deflated, so placed in parts; parts of up to 1.9 MB were bound as
    // bytes, and one 15 MB request's parts took about 120 MB of heap in the binding's Array.from.
    const text = JSON.stringify(Array.from({ length: 700_000 }, (_, i) => (i * 2654435761) % 99991));
    const value = compressText(text);
    const owner = { id: "blob-split", tenantId: "t" };
    const { inline, statements } = placeValue(db, owner, "input", value);
    expect(inline).toBeNull();
    expect(value.byteLength).toBeGreaterThan(1_000_000);
    const inserts = statements.slice(1).map(sqlOf);
    expect(inserts.length).toBeGreaterThan(1);
    for (const insert of inserts) expect(insert).toContain("unhex(?)");
    await db.batch(statements as [(typeof statements)[0], ...typeof statements]);
    expect(await readValue(db, owner, "input", null)).toBe(text);
    const events = batchStatements(db, { responseId: "r", tenantId: "t" }, 0, 1, value);
    for (const statement of events) expect(sqlOf(statement)).toContain("unhex(?)");
  });

  it("of no bytes store an empty BLOB", async () => {
    const { stored, read } = await roundTrip("blob-empty", new Uint8Array());
    expect(stored).toEqual({ type: "blob", length: 0, hex: "" });
    expect(read).toEqual(new Uint8Array());
  });

  it("written as TEXT by an earlier version read back as that text", async () => {
    const text = '{"type":"message","content":"caf\u00e9 \\u0001"}';
    await env.DB.prepare(
      "INSERT INTO blobs (owner_id, tenant_id, name, part, data) VALUES ('blob-text', 't', 'v', 0, ?)",
    )
      .bind(text)
      .run();
    const [read] = await db
      .select({ data: blobs.data, hex: readBlob(blobs.data) })
      .from(blobs)
      .where(eq(blobs.ownerId, "blob-text"));
    expect(read).toEqual({ data: text, hex: text });
  });
});
