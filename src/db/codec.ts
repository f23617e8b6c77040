// How large values are kept in D1: JSON (and event frames) compressed with raw deflate into BLOB
// columns, by workerd's native node:zlib in one synchronous call: the same bytes CompressionStream
// "deflate-raw" makes (rows written with it read the same), without its stream set-up, which cost about
// 0.18 ms of CPU a value against 0.02 to 0.04. Values written before compression existed are TEXT and
// read as they are. Used by every query module that stores a snapshot, input or events.

import { Buffer } from "node:buffer";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { sql, type SQL } from "drizzle-orm";
import { customType } from "drizzle-orm/sqlite-core";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What a BLOB column holds as the app sees it; TEXT for values written by earlier versions. */
export type StoredValue = Uint8Array | string;

/** Largest value bound as hex text: the text (twice the bytes) stays under D1's 2 MB bound-value limit. */
const HEX_MAX_BYTES = 900_000;

/**
 * A BLOB value as a statement binds it. D1's binding sends a bound Uint8Array as a JSON array of numbers
 * (about 3.6 characters a byte, built, parsed and checked one number at a time); hex text decoded by
 * SQLite's `unhex()` (3.41+, on workerd's list of allowed functions) is 2 characters a byte, encoded
 * natively, and stores the same BLOB. Larger values (split parts near 2 MB) stay bound as bytes.
 */
export function blobParam(value: Uint8Array): SQL | Uint8Array {
  if (value.byteLength > HEX_MAX_BYTES) return value;
  return sql`unhex(${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex")})`;
}

/**
 * A BLOB column. Values are bound by `blobParam`; D1 answers BLOBs as arrays of numbers (or
 * ArrayBuffers), both read back as a Uint8Array. A TEXT value (an older row) comes back as it is.
 */
export const bytes = customType<{ data: StoredValue; driverData: StoredValue | number[] | ArrayBuffer | SQL }>({
  dataType: () => "blob",
  fromDriver: (value) => fromDriver(value as StoredValue | number[] | ArrayBuffer),
  toDriver: (value) => (typeof value === "string" ? value : blobParam(value)),
});

export function fromDriver(value: StoredValue | number[] | ArrayBuffer): StoredValue {
  if (typeof value === "string" || value instanceof Uint8Array) return value;
  return value instanceof ArrayBuffer ? new Uint8Array(value) : Uint8Array.from(value);
}

/** Text compressed for storage (raw deflate). */
export const compressText = (text: string): Uint8Array => deflateRawSync(encoder.encode(text));

/** The text a stored value holds (decompressed, or as written when it is TEXT). */
export function decompressText(value: StoredValue): string {
  if (typeof value === "string") return value;
  return decoder.decode(inflateRawSync(value));
}

export const compressJson = (value: unknown): Uint8Array => compressText(JSON.stringify(value));

export function decompressJson<T>(value: StoredValue): T {
  return JSON.parse(decompressText(value)) as T;
}
