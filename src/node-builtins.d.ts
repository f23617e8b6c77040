// What src/db/codec.ts uses of workerd's node:zlib and node:buffer (and src/sealing.ts of its base64url), and src/upstream/reasoning-seal.ts
// of node:crypto (enabled by `nodejs_compat`); the Worker's types leave Node's modules out, and all of
// @types/node would retype the Worker's globals.
declare module "node:zlib" {
  /** Raw deflate in one native call (workerd returns a Buffer, a Uint8Array). */
  export function deflateRawSync(data: Uint8Array): Uint8Array;
  /** Raw inflate in one native call; throws on data that is not raw deflate. */
  export function inflateRawSync(data: Uint8Array): Uint8Array;
}

declare module "node:buffer" {
  /** A view of bytes, and bytes to and from text in an encoding. */
  export class Buffer extends Uint8Array {
    static from(buffer: ArrayBufferLike, byteOffset?: number, length?: number): Buffer;
    static from(text: string, encoding: "hex" | "base64" | "base64url" | "utf8"): Buffer;
    toString(encoding?: "hex" | "base64" | "base64url" | "utf8"): string;
  }
}

declare module "node:crypto" {
  /** AES-GCM in one native call per step: synchronous, where WebCrypto's is a promise. */
  interface GcmStep {
    setAAD(data: Uint8Array): this;
    update(data: Uint8Array): Uint8Array;
    final(): Uint8Array;
  }
  export function createCipheriv(
    algorithm: "aes-256-gcm",
    key: Uint8Array,
    iv: Uint8Array,
  ): GcmStep & { getAuthTag(): Uint8Array };
  export function createDecipheriv(
    algorithm: "aes-256-gcm",
    key: Uint8Array,
    iv: Uint8Array,
  ): GcmStep & { setAuthTag(tag: Uint8Array): unknown };
  /** HKDF (RFC 5869) of `length` bytes. */
  export function hkdfSync(digest: "sha256", key: string, salt: string, info: string, length: number): ArrayBuffer;
}
