// Compressed values that usually fit in their row's column but may not: a D1 row holds at most 2 MB,
// so a value past the inline limit goes to `blobs` in parts and its column is left null. Used by
// src/db/responses.ts for a response's input and snapshot.

import { and, asc, eq, inArray, sql, type SQL } from "drizzle-orm";
import type { Db, Statement } from "./client";
import { blobParam, decompressText, HEX_MAX_BYTES, readBlob, type StoredValue } from "./codec";
import { blobs } from "./schema";

/**
 * Largest compressed value kept in its row. A response row holds up to four (input, snapshot, output
 * and the events not in a batch row), but the events repeat the snapshot's large fields and the
 * output, so an inline tail leaves little room to the others: together they stay under D1's 2 MB.
 */
export const MAX_INLINE_BYTES = 600_000;
/**
 * Bytes per `blobs` (and event batch) part, one part per row. Not the 2 MB a row may hold: a part
 * that large would be bound as bytes, which D1's binding expands into an array of numbers (codec.ts),
 * so parts are cut at the size bound as hex text. Rows written with larger parts read the same.
 */
export const MAX_PART_BYTES = HEX_MAX_BYTES;

/** Splits bytes into parts of at most `max` bytes. */
export function splitBytes(data: Uint8Array, max = MAX_PART_BYTES): Uint8Array[] {
  if (data.byteLength <= max) return [data];
  const parts: Uint8Array[] = [];
  for (let start = 0; start < data.byteLength; start += max) parts.push(data.subarray(start, start + max));
  return parts;
}

export function joinBytes(parts: readonly StoredValue[]): StoredValue {
  if (parts.length === 1) return parts[0] as StoredValue;
  // Legacy values were split as text.
  if (parts.every((part) => typeof part === "string")) return parts.join("");
  const total = parts.reduce((sum, part) => sum + (part as Uint8Array).byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part as Uint8Array, offset);
    offset += (part as Uint8Array).byteLength;
  }
  return out;
}

/** The row a value belongs to. */
export interface Owner {
  id: string;
  tenantId: string;
}

// Legacy parts were written before blobs named their tenant ('').
const ownerScope = (owner: Owner, name: string) =>
  and(eq(blobs.ownerId, owner.id), inArray(blobs.tenantId, [owner.tenantId, ""]), eq(blobs.name, name));

/**
 * The column value (null when split) and the statements that (re)write its `blobs` parts. With
 * `guard`, they write only while it holds (the owner row is still there to point at them): parts
 * written for a row deleted meanwhile would be found by nothing, and kept for good.
 */
export function placeValue(
  db: Db,
  owner: Owner,
  name: string,
  value: Uint8Array,
  guard?: SQL,
): { inline: Uint8Array | null; statements: Statement[] } {
  if (value.byteLength <= MAX_INLINE_BYTES) return { inline: value, statements: [] };
  const clear = db.delete(blobs).where(and(ownerScope(owner, name), guard));
  const parts = splitBytes(value);
  const insert = (data: Uint8Array, part: number) =>
    guard === undefined
      ? db.insert(blobs).values({ ownerId: owner.id, tenantId: owner.tenantId, name, part, data })
      : // Columns in the table's order: owner_id, tenant_id, name, part, data.
        db
          .insert(blobs)
          .select(sql`SELECT ${owner.id}, ${owner.tenantId}, ${name}, ${part}, ${blobParam(data)} WHERE ${guard}`);
  return {
    inline: null,
    // One part per statement: its hex text is close to the 2 MB a bound value may hold.
    statements: [clear, ...parts.map(insert)],
  };
}

/** The text of a value: its column, or its `blobs` parts when the column is null. */
export async function readValue(db: Db, owner: Owner, name: string, inline: StoredValue | null): Promise<string> {
  if (inline !== null) return decompressText(inline);
  const parts = await db
    .select({ data: readBlob(blobs.data) })
    .from(blobs)
    .where(ownerScope(owner, name))
    .orderBy(asc(blobs.part));
  return decompressText(joinBytes(parts.map((part) => part.data)));
}
