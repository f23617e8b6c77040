// Gateway keys (`sk-gw-…`): minting, hashing, masking and constant-time comparison. Pure WebCrypto,
// no bindings and no imports: used by the Worker (authentication, admin API, idempotency hashes)
// and by the operator script in scripts/.

export const GATEWAY_KEY_PREFIX = "sk-gw-";
/** 43 base62 characters carry 256 bits of randomness. */
export const GATEWAY_KEY_RANDOM_CHARS = 43;
/** Characters of a key kept in `api_keys.prefix` to tell keys apart (`sk-gw-` and 4 more). */
export const SHOWN_PREFIX_CHARS = GATEWAY_KEY_PREFIX.length + 4;

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `count` uniformly random base62 characters (rejection sampling: no modulo bias). */
export function randomBase62(count: number): string {
  let out = "";
  while (out.length < count) {
    for (const byte of crypto.getRandomValues(new Uint8Array(count * 2))) {
      // 248 = 4 * 62: bytes at or above it would favour the first characters.
      if (byte < 248 && out.length < count) out += BASE62[byte % 62];
    }
  }
  return out;
}

export const newGatewayKey = (): string => `${GATEWAY_KEY_PREFIX}${randomBase62(GATEWAY_KEY_RANDOM_CHARS)}`;

/** SHA-256 of `text` (UTF-8), lowercase hex. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  let hex = "";
  for (const byte of new Uint8Array(digest)) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** What `api_keys.key_hash` holds: SHA-256 of the whole key, lowercase hex. */
export const hashGatewayKey = (key: string): Promise<string> => sha256Hex(key);

export const shownPrefix = (key: string): string => key.slice(0, SHOWN_PREFIX_CHARS);

/** Longest masked key put in an error message; a client may send anything as its key. */
const MAX_MASKED_CHARS = 64;

/** Keys shorter than this are masked entirely: a few shown characters would be much of the key. */
const MIN_PARTLY_SHOWN_CHARS = 24;

/** A presented key as OpenAI shows it in a 401 (`sk-gw-Ab*****…wxyz`): never the whole key. */
export function maskKey(key: string): string {
  if (key.length < MIN_PARTLY_SHOWN_CHARS) return "*".repeat(Math.min(key.length, MAX_MASKED_CHARS));
  const head = key.startsWith(GATEWAY_KEY_PREFIX) ? GATEWAY_KEY_PREFIX.length + 2 : 3;
  const stars = Math.min(key.length - head - 4, MAX_MASKED_CHARS - head - 4);
  return `${key.slice(0, head)}${"*".repeat(stars)}${key.slice(-4)}`;
}

/** Compares two hex digests in time independent of where they differ. */
export function sameDigest(a: string, b: string): boolean {
  const encoder = new TextEncoder();
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  if (left.byteLength !== right.byteLength) return false;
  const subtle = crypto.subtle as SubtleCrypto & { timingSafeEqual?: (a: Uint8Array, b: Uint8Array) => boolean };
  if (typeof subtle.timingSafeEqual === "function") return subtle.timingSafeEqual(left, right);
  let diff = 0;
  for (let i = 0; i < left.byteLength; i++) diff |= (left[i] as number) ^ (right[i] as number);
  return diff === 0;
}
