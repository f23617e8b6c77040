// The compaction items the gateway makes: how one is recognised, and its content sealed and opened
// with AES-256-GCM (WebCrypto), the key derived from the gateway secret `COMPACTION_SECRET` and the
// tenant id bound as additional data, so an item only opens for the tenant it was made for and any
// change to it is detected. Used by the compaction modules and the chat messages check.

import { ApiError } from "../errors";
import type { JsonObject } from "../responses/types";
import { fromBase64Url, IV_BYTES, MIN_SECRET_LENGTH, tenantData, toBase64Url, usableSecret, utf8 } from "../sealing";

/** Marks `encrypted_content` made by this gateway (format version 1): `gwc1.` + base64url(iv ‖ AES-GCM ciphertext). */
export const GATEWAY_COMPACTION_PREFIX = "gwc1.";

/** A `compaction` item whose content this gateway made (it may still fail to open: forged or foreign). */
export const isGatewayCompaction = (item: JsonObject): boolean =>
  item.type === "compaction" &&
  typeof item.encrypted_content === "string" &&
  item.encrypted_content.startsWith(GATEWAY_COMPACTION_PREFIX);

/** What a compaction item carries, sealed. */
export interface CompactionPayload {
  /** Format version. */
  v: 1;
  /** The summary the upstream model wrote of the compacted context. */
  summary: string;
  /** Unix seconds. */
  created_at: number;
  /** The model that wrote it. */
  model: string;
}

/** The secret, or a 503 naming the setting when it is missing or too short (nothing a retry fixes). */
export function compactionSecret(secret: string | null): string {
  const usable = usableSecret(secret);
  if (usable !== null) return usable;
  const problem = secret === null ? "which is not set" : `which is shorter than ${MIN_SECRET_LENGTH} characters`;
  return misconfigured(
    `Compaction done by the gateway (for a Chat Completions model server, or a Responses one without /responses/compact) needs the gateway secret COMPACTION_SECRET (${MIN_SECRET_LENGTH} characters or more), ${problem}.`,
  );
}

function misconfigured(message: string): never {
  throw new ApiError(503, message, {
    type: "server_error",
    code: "compaction_not_configured",
    headers: { "x-should-retry": "false" },
  });
}

async function key(secret: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", utf8(secret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: utf8("responses-gateway compaction"), info: utf8("v1") },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** The `encrypted_content` of a compaction item for `tenantId`: the prefix, then base64url(iv ‖ ciphertext). */
export async function seal(payload: CompactionPayload, tenantId: string, secret: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: tenantData(tenantId) },
    await key(secret),
    utf8(JSON.stringify(payload)),
  );
  const bytes = new Uint8Array(IV_BYTES + sealed.byteLength);
  bytes.set(iv);
  bytes.set(new Uint8Array(sealed), IV_BYTES);
  return `${GATEWAY_COMPACTION_PREFIX}${toBase64Url(bytes)}`;
}

/** The payload, or null when the content was made for another tenant, with another secret, or altered. */
export async function open(content: string, tenantId: string, secret: string): Promise<CompactionPayload | null> {
  if (!content.startsWith(GATEWAY_COMPACTION_PREFIX)) return null;
  const bytes = fromBase64Url(content.slice(GATEWAY_COMPACTION_PREFIX.length));
  if (bytes === null || bytes.length <= IV_BYTES) return null;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.slice(0, IV_BYTES), additionalData: tenantData(tenantId) },
      await key(secret),
      bytes.slice(IV_BYTES),
    );
    const payload = JSON.parse(new TextDecoder().decode(plain)) as CompactionPayload;
    return payload.v === 1 && typeof payload.summary === "string" ? payload : null;
  } catch {
    return null;
  }
}
