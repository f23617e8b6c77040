// What the values the gateway seals share (compaction items, src/compaction/seal.ts; reasoning made
// over Chat Completions, src/upstream/reasoning-seal.ts): AES-256-GCM with a 12-byte IV, written as
// base64url(iv ‖ ciphertext ‖ tag) after a prefix, and the tenant id bound as additional data.

import { Buffer } from "node:buffer";
import { invalidRequest, type ApiError } from "./errors";

/** 32 characters: a secret shorter than the 256-bit key it is stretched into is a weak key. */
export const MIN_SECRET_LENGTH = 32;

/** The secret when it can key a seal (set, and long enough: config.ts logs one that is not), else null. */
export const usableSecret = (secret: string | null): string | null =>
  secret !== null && secret.length >= MIN_SECRET_LENGTH ? secret : null;

/**
 * OpenAI's `invalid_encrypted_content` for a value the gateway sealed that does not open here, naming
 * `param` (OpenAI names none): a reasoning item's in a create's input or a conversation's new items.
 */
export const sealNotOpened = (param: string, kind: string, id?: unknown): ApiError =>
  invalidRequest(
    `Invalid '${param}': the encrypted content of the ${kind} item${typeof id === "string" ? ` '${id.slice(0, 128)}'` : ""} could not be verified. It was made for another API key or by a gateway with another COMPACTION_SECRET (or none), or it was altered.`,
    param,
    "invalid_encrypted_content",
  );

export const IV_BYTES = 12;

const encoder = new TextEncoder();

export const utf8 = (text: string): Uint8Array => encoder.encode(text);

/** The additional data of a value sealed for `tenantId`: it opens for that tenant only. */
export const tenantData = (tenantId: string): Uint8Array => utf8(`tenant:${tenantId}`);

export const toBase64Url = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");

/** The bytes of a base64url value, or null when it is not one (native: a request may carry thousands, megabytes each). */
export function fromBase64Url(text: string): Uint8Array | null {
  // base64url has no length of 1 mod 4 (a cut or altered value); Buffer would decode one leniently.
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  return Buffer.from(text, "base64url");
}
