// Standard Webhooks signing, exactly what `client.webhooks.unwrap()` of the openai SDK verifies:
// key = base64 of the part after `whsec_`, HMAC-SHA256 over `${id}.${timestamp}.${body}`, header
// `v1,<base64>`. Used by webhook delivery (every attempt), the endpoint routes (new secrets, hints)
// and the operator script (no imports, so Node runs it as is).

export const SECRET_PREFIX = "whsec_";
/** Standard Webhooks keys are 24 to 64 bytes; the gateway mints 32. */
export const MIN_SECRET_BYTES = 24;
export const MAX_SECRET_BYTES = 64;
const NEW_SECRET_BYTES = 32;

const encoder = new TextEncoder();

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}

export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${toBase64(crypto.getRandomValues(new Uint8Array(NEW_SECRET_BYTES)))}`;
}

/** A masked hint that tells secrets apart without revealing them: the prefix and the last 4 characters. */
export const secretHint = (secret: string): string => `${SECRET_PREFIX}…${secret.slice(-4)}`;

/** The key bytes of a well-formed `whsec_` secret of 24-64 bytes, or null. */
export function secretKey(secret: string): Uint8Array | null {
  if (!secret.startsWith(SECRET_PREFIX)) return null;
  const key = fromBase64(secret.slice(SECRET_PREFIX.length));
  return key !== null && key.length >= MIN_SECRET_BYTES && key.length <= MAX_SECRET_BYTES ? key : null;
}

/** Like the SDK: a `whsec_` secret is base64, anything else is used as raw UTF-8. */
function keyBytes(secret: string): Uint8Array {
  return secret.startsWith(SECRET_PREFIX)
    ? (fromBase64(secret.slice(SECRET_PREFIX.length)) ?? encoder.encode(secret))
    : encoder.encode(secret);
}

/** The `webhook-signature` value for one attempt. */
export async function signature(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  // A copy backed by a plain ArrayBuffer, as every BufferSource typing (Workers, DOM) accepts.
  const raw = new Uint8Array(keyBytes(secret));
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${id}.${timestamp}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

/** The Standard Webhooks headers of one attempt: same id every time, fresh timestamp and signature. */
export async function signedHeaders(
  secret: string,
  id: string,
  body: string,
  timestamp = Math.floor(Date.now() / 1000),
): Promise<Record<string, string>> {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signature(secret, id, timestamp, body),
  };
}
