// How large values are kept in D1: JSON (and event frames) compressed with raw deflate into BLOB
// columns, by workerd's native node:zlib in one synchronous call: the same bytes CompressionStream
// "deflate-raw" makes (rows written with it read the same), without its stream set-up, which cost about
// 0.18 ms of CPU a value against 0.02 to 0.04. Values written before compression existed are TEXT and
// read as they are. Used by every query module that stores a snapshot, input or events.

import { deflateRawSync, inflateRawSync } from "node:zlib";
import { customType } from "drizzle-orm/sqlite-core";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What a BLOB column holds as the app sees it; TEXT for values written by earlier versions. */
export type StoredValue = Uint8Array | string;

/**
 * A BLOB column. D1 binds a Uint8Array as a BLOB and answers BLOBs as arrays of numbers (or
 * ArrayBuffers); both come back as a Uint8Array. A TEXT value (an older row) comes back as it is.
 */
export const bytes = customType<{ data: StoredValue; driverData: StoredValue | number[] | ArrayBuffer }>({
  dataType: () => "blob",
  fromDriver: (value) => fromDriver(value),
  toDriver: (value) => value,
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
