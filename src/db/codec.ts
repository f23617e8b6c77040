// How large values are kept in D1: JSON (and event frames) compressed with the platform's own
// CompressionStream (deflate-raw) into BLOB columns. Values written before compression existed are
// TEXT and read as they are. Used by every query module that stores a snapshot, input or events.

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

/** Runs bytes through a (de)compression stream: written whole, read whole (no Blob or pipe in between, which cost CPU). */
async function pipe(input: Uint8Array, transform: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const writer = transform.writable.getWriter();
  // A write or close that fails errors the readable side too: the read below throws it.
  writer.write(input).catch(() => undefined);
  writer.close().catch(() => undefined);
  return new Uint8Array(await new Response(transform.readable).arrayBuffer());
}

/** Text compressed for storage. */
export const compressText = (text: string): Promise<Uint8Array> =>
  pipe(encoder.encode(text), new CompressionStream("deflate-raw"));

/** The text a stored value holds (decompressed, or as written when it is TEXT). */
export async function decompressText(value: StoredValue): Promise<string> {
  if (typeof value === "string") return value;
  return decoder.decode(await pipe(value, new DecompressionStream("deflate-raw")));
}

export const compressJson = (value: unknown): Promise<Uint8Array> => compressText(JSON.stringify(value));

export async function decompressJson<T>(value: StoredValue): Promise<T> {
  return JSON.parse(await decompressText(value)) as T;
}
