// How large values are kept in D1: JSON (and event frames) compressed with raw deflate into BLOB
// columns, by workerd's native node:zlib in one synchronous call: the same bytes CompressionStream
// "deflate-raw" makes (rows written with it read the same), without its stream set-up, which cost about
// 0.18 ms of CPU a value against 0.02 to 0.04. Values written before compression existed are TEXT and
// read as they are, as is a running row's small start snapshot (the end rewrites it compressed). Used
// by every query module that stores a snapshot, input or events.

import { Buffer } from "node:buffer";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { sql, type SQL } from "drizzle-orm";
import { customType, type SQLiteColumn } from "drizzle-orm/sqlite-core";
import { jsonBytes } from "../json-text";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What a BLOB column holds as the app sees it; TEXT for values written by earlier versions. */
export type StoredValue = Uint8Array | string;

/**
 * Largest value bound as hex text: the text (twice the bytes) stays under D1's 2 MB bound-value limit.
 * Split values are cut into parts of this size (large-values.ts), so that every BLOB the gateway
 * writes is bound this way.
 */
export const HEX_MAX_BYTES = 900_000;

/**
 * A BLOB value as a statement binds it. D1's binding sends a bound Uint8Array as a JSON array of numbers
 * (about 3.6 characters a byte, built, parsed and checked one number at a time); hex text decoded by
 * SQLite's `unhex()` (3.41+, on workerd's list of allowed functions) is 2 characters a byte, encoded
 * natively, and stores the same BLOB. A larger value is bound as bytes, which the binding turns into
 * an array of numbers (`Array.from`) before the JSON: over 10 bytes of heap a byte while it builds,
 * about 120 MB for the parts of one 15 MB request, near an isolate's 128 MB. The gateway binds none.
 */
export function blobParam(value: Uint8Array): SQL | Uint8Array {
  if (value.byteLength > HEX_MAX_BYTES) return value;
  return sql`unhex(${hexOf(value)})`;
}

/** A BLOB value as the hex text `unhex()` takes (a statement prepared once binds its BLOBs so). */
export function hexOf(value: Uint8Array): string {
  if (value.byteLength > HEX_MAX_BYTES)
    throw new RangeError(`a ${value.byteLength}-byte value is too large to bind as hex`);
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex");
}

/** Starts a BLOB read as hex: the JSON and SSE text of older TEXT values never holds a raw U+0001. */
const HEX_MARK = "\u0001";

/**
 * A BLOB column as a query reads it: hex text after `HEX_MARK` (2 characters a byte, decoded natively)
 * instead of the JSON array of numbers D1 answers for a BLOB (about 3.6 characters a byte, parsed one by
 * one); a TEXT value (an older row) as it is; NULL as null. Read back as `fromDriver` gives it.
 */
export const readBlob = (column: SQLiteColumn) => hexOrText(sql`${column}`).mapWith(fromDriver);

/** `readBlob`, but NULL where `skip` holds: a value most reads of the row do not need, read apart by the one that does. */
export const readBlobUnless = (column: SQLiteColumn, skip: SQL) =>
  sql<StoredValue | null>`iif(${skip}, NULL, ${hexOrText(sql`${column}`)})`.mapWith(fromDriver);

/** The same expression for raw SQL on a column named `name` (a select's own column or an alias). */
export const readBlobSql = (name: string) => hexOrText(sql`${sql.identifier(name)}`);

/** `char(1)` is `HEX_MARK`. */
const hexOrText = (value: SQL) =>
  sql<StoredValue | null>`iif(typeof(${value}) = 'blob', char(1) || hex(${value}), ${value})`;

/**
 * A BLOB column. Values are bound by `blobParam`; a BLOB read as it is (an array of numbers or an
 * ArrayBuffer) or through `readBlob` comes back as a Uint8Array, a TEXT value (an older row) as it is.
 */
export const bytes = customType<{ data: StoredValue; driverData: StoredValue | number[] | ArrayBuffer | SQL }>({
  dataType: () => "blob",
  fromDriver: (value) => fromDriver(value as StoredValue | number[] | ArrayBuffer),
  toDriver: (value) => (typeof value === "string" ? value : blobParam(value)),
});

export function fromDriver(value: StoredValue | number[] | ArrayBuffer): StoredValue {
  if (typeof value === "string") return value.startsWith(HEX_MARK) ? fromHex(value.slice(HEX_MARK.length)) : value;
  if (value instanceof Uint8Array) return value;
  return value instanceof ArrayBuffer ? new Uint8Array(value) : Uint8Array.from(value);
}

function fromHex(hex: string): Uint8Array {
  const bytes = Buffer.from(hex, "hex");
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Text compressed for storage (raw deflate). */
export const compressText = (text: string): Uint8Array => deflateRawSync(encoder.encode(text));

/** The text a stored value holds (decompressed, or as written when it is TEXT). */
export function decompressText(value: StoredValue): string {
  if (typeof value === "string") return value;
  return decoder.decode(inflateRawSync(value));
}

/** A value's JSON compressed, its text encoded straight to bytes: a 16 MiB input was held as text too. */
export const compressJson = (value: unknown): Uint8Array => deflateRawSync(jsonBytes(value));

export function decompressJson<T>(value: StoredValue): T {
  return JSON.parse(decompressText(value)) as T;
}
