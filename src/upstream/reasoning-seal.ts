// The `encrypted_content` of the reasoning items the gateway makes over Chat Completions. Every one
// carries the gateway's mark, so a chain can tell it later from a model's own (a Responses upstream
// cannot read it and drops it); asked for `reasoning.encrypted_content`, or for a store:false
// create, with `COMPACTION_SECRET` set, the value also seals the reasoning text for the tenant, so
// a client that keeps its own history can send it back to a chat model. Used by the chat translator (sealing)
// and gateway-reasoning.ts (opening).
//
// node:crypto, not WebCrypto as compaction's seal: the translator turns chunks into events
// synchronously, and a reasoning item is sealed the moment it ends.

import { createCipheriv, createDecipheriv, hkdfSync } from "node:crypto";
import type { JsonObject } from "../responses/types";
import { ENCRYPTED_REASONING } from "../responses/validation";
import { fromBase64Url, IV_BYTES, tenantData, toBase64Url, usableSecret, utf8 } from "../sealing";

/**
 * The whole value of a reasoning item whose text is not sealed (format version 1): a few bytes on
 * every stored chat reasoning item and its events, which keep the text in `content` themselves.
 */
export const GATEWAY_REASONING_MARK = "gwr1";

/** Starts a sealed value: `gwr1.` + base64url(iv ‖ AES-256-GCM ciphertext ‖ tag) of the text. */
const SEALED_PREFIX = `${GATEWAY_REASONING_MARK}.`;

const TAG_BYTES = 16;

/** A `reasoning` item this gateway made over Chat Completions (sealed or marked). */
export const isGatewayReasoning = (item: JsonObject): boolean =>
  item.type === "reasoning" &&
  typeof item.encrypted_content === "string" &&
  (item.encrypted_content === GATEWAY_REASONING_MARK || item.encrypted_content.startsWith(SEALED_PREFIX));

/** A value that holds sealed text (a bare mark holds none). */
export const isSealedReasoning = (value: unknown): value is string =>
  typeof value === "string" && value.startsWith(SEALED_PREFIX);

/** The key, apart from compaction's: its own HKDF salt, so neither kind of value opens as the other. */
const key = (secret: string): Uint8Array =>
  new Uint8Array(hkdfSync("sha256", secret, "responses-gateway reasoning", "v1", 32));

/** What a reasoning item's text becomes as its `encrypted_content`. */
export type ReasoningSeal = (text: string) => string;

/** What of a create decides whether its reasoning is sealed. */
export interface SealRequest {
  include: readonly string[];
  store: boolean;
}

/**
 * The seal of a response's chat reasoning items: the text sealed for `tenantId` when the request
 * asks for encrypted reasoning or is not stored, and the secret can key it, else the mark alone.
 * A store:false item can come back only as the client kept it: a bare mark would come back
 * without its text, and the AI SDK asks for encrypted reasoning only for model names it knows to
 * reason, so DeepSeek-style servers refused its second step (400 Missing `reasoning_content`).
 */
export function reasoningSeal(request: SealRequest, tenantId: string, secret: string | null): ReasoningSeal {
  const asked = request.include.includes(ENCRYPTED_REASONING) || !request.store;
  const usable = usableSecret(secret);
  if (!asked || usable === null) return () => GATEWAY_REASONING_MARK;
  const sealKey = key(usable);
  const aad = tenantData(tenantId);
  return (text) => {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const cipher = createCipheriv("aes-256-gcm", sealKey, iv);
    cipher.setAAD(aad);
    return `${SEALED_PREFIX}${toBase64Url(concat([iv, cipher.update(utf8(text)), cipher.final(), cipher.getAuthTag()]))}`;
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((length, part) => length + part.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

/** The text of a sealed value, or null when it was sealed for another tenant, with another secret, or altered. */
export function openReasoning(value: string, tenantId: string, secret: string | null): string | null {
  const usable = usableSecret(secret);
  if (usable === null || !value.startsWith(SEALED_PREFIX)) return null;
  const bytes = fromBase64Url(value.slice(SEALED_PREFIX.length));
  if (bytes === null || bytes.length < IV_BYTES + TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key(usable), bytes.subarray(0, IV_BYTES));
    decipher.setAAD(tenantData(tenantId));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    const plain = concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
    return new TextDecoder().decode(plain);
  } catch {
    return null;
  }
}
