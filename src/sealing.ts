// What the values the gateway seals share (compaction items, src/compaction/seal.ts; reasoning made
// over Chat Completions, src/upstream/reasoning-seal.ts): AES-256-GCM with a 12-byte IV, written as
// base64url(iv ‖ ciphertext ‖ tag) after a prefix, and the tenant id bound as additional data.

/** 32 characters: a secret shorter than the 256-bit key it is stretched into is a weak key. */
export const MIN_SECRET_LENGTH = 32;

export const IV_BYTES = 12;

const encoder = new TextEncoder();

export const utf8 = (text: string): Uint8Array => encoder.encode(text);

/** The additional data of a value sealed for `tenantId`: it opens for that tenant only. */
export const tenantData = (tenantId: string): Uint8Array => utf8(`tenant:${tenantId}`);

export function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function fromBase64Url(text: string): Uint8Array | null {
  // base64url has no length of 1 mod 4: atob throws on one (a cut or altered value), which is null too.
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
