// What src/db/codec.ts uses of workerd's node:zlib and node:buffer (enabled by `nodejs_compat`); the
// Worker's types leave Node's modules out, and all of @types/node would retype the Worker's globals.
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
    static from(text: string, encoding: "hex" | "base64" | "utf8"): Buffer;
    toString(encoding?: "hex" | "base64" | "utf8"): string;
  }
}
