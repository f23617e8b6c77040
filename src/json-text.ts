// JSON text made in pieces, never held as one string: a 16 MiB create's body sent upstream as one
// string was held twice more during the call (the string, and the runtime's UTF-8 copy of it) for as
// long as the model took to answer, and its input stored was stringified, then encoded, then
// compressed. Used by src/upstream/client.ts (the body sent) and src/db/codec.ts (values stored).

/** Characters of a long string escaped at a time. */
const SLICE_CHARS = 65_536;
/** Bytes encoded per chunk sent. */
const CHUNK_BYTES = 65_536;
/**
 * A value whose text is about shorter is made whole by JSON.stringify: made in pieces, a body costs
 * twice the CPU (a long agent context of 600 KB: 2.1 ms whole, 4.8 ms in pieces), and a few MB held
 * during a call are no matter; a 16 MiB one is.
 */
const WHOLE_CHARS = 4 * 1_048_576;

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/** A string's JSON text in pieces: a long one escaped a slice at a time, never cutting a surrogate pair. */
function* stringPieces(text: string): Generator<string> {
  if (text.length <= SLICE_CHARS) {
    yield JSON.stringify(text);
    return;
  }
  yield '"';
  for (let start = 0; start < text.length;) {
    let end = Math.min(start + SLICE_CHARS, text.length);
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--;
    yield JSON.stringify(text.slice(start, end)).slice(1, -1);
    start = end;
  }
  yield '"';
}

/**
 * Whether `value`'s JSON text is about under `budget` characters (each string's length, escapes not
 * counted, and a little for each value): read only as far as the budget, so a large value costs no
 * more than a small. It only chooses how the text is made, never what it is.
 */
function smallerThan(value: unknown, budget: number): boolean {
  const pending: unknown[] = [value];
  let left = budget;
  while (pending.length > 0 && left >= 0) {
    const next = pending.pop();
    if (typeof next === "string") left -= next.length + 2;
    else if (Array.isArray(next)) {
      left -= 2 + next.length;
      for (let index = 0; index < next.length && left >= 0; index++) pending.push(next[index]);
    } else if (typeof next === "object" && next !== null)
      for (const name in next) {
        left -= name.length + 4;
        pending.push((next as Record<string, unknown>)[name]);
      }
    else left -= 24;
  }
  return left >= 0;
}

/**
 * The pieces of `JSON.stringify(value)`, in order: a value that is surely small in one piece, a
 * larger one member by member, a long string a slice at a time. A value with `toJSON` is given to it whole.
 */
export function* jsonPieces(value: unknown): Generator<string> {
  if (typeof value === "string") {
    yield* stringPieces(value);
    return;
  }
  if (typeof value !== "object" || value === null || "toJSON" in value || smallerThan(value, SLICE_CHARS)) {
    // As JSON.stringify has it: undefined (and functions) are left out by the container.
    yield JSON.stringify(value) ?? "null";
    return;
  }
  if (Array.isArray(value)) {
    yield "[";
    for (let index = 0; index < value.length; index++) {
      if (index > 0) yield ",";
      const element: unknown = value[index];
      if (element === undefined || typeof element === "function" || typeof element === "symbol") yield "null";
      else yield* jsonPieces(element);
    }
    yield "]";
    return;
  }
  yield "{";
  let first = true;
  for (const [name, member] of Object.entries(value)) {
    if (member === undefined || typeof member === "function" || typeof member === "symbol") continue;
    yield `${first ? "" : ","}${JSON.stringify(name)}:`;
    first = false;
    yield* jsonPieces(member);
  }
  yield "}";
}

/** Pieces of `value`'s JSON text joined into texts of about CHUNK_BYTES characters, each encoded at once. */
function* jsonTexts(value: unknown): Generator<string> {
  let text = "";
  for (const piece of jsonPieces(value)) {
    text += piece;
    if (text.length >= CHUNK_BYTES) {
      yield text;
      text = "";
    }
  }
  if (text.length > 0) yield text;
}

/** Encodes `value`'s JSON text into `into` (a scratch buffer, reused, when only counting); the bytes written. */
function encodeJson(value: unknown, into: Uint8Array, count: boolean): number {
  const encoder = new TextEncoder();
  let bytes = 0;
  for (const text of jsonTexts(value))
    for (let rest = text; rest.length > 0;) {
      const { read, written } = encoder.encodeInto(rest, count ? into : into.subarray(bytes));
      bytes += written;
      rest = rest.slice(read);
    }
  return bytes;
}

/** UTF-8 bytes of `value`'s JSON text, counted without making it. */
const jsonByteLength = (value: unknown): number => encodeJson(value, new Uint8Array(CHUNK_BYTES), true);

/** `value`'s JSON text as UTF-8, made straight into one buffer: `encode(JSON.stringify(value))` held the text too. */
export function jsonBytes(value: unknown): Uint8Array {
  if (smallerThan(value, WHOLE_CHARS)) return new TextEncoder().encode(JSON.stringify(value));
  const bytes = new Uint8Array(jsonByteLength(value));
  encodeJson(value, bytes, false);
  return bytes;
}

/** `value`'s JSON text as UTF-8 chunks, made as they are read. */
function jsonChunks(value: unknown): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const texts = jsonTexts(value);
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const next = texts.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * A body that sends `value` as JSON with its `Content-Length` (a chunked upload is refused by some
 * servers), each call a fresh stream: a retried call sends it again.
 */
export function jsonBody(value: unknown): () => BodyInit {
  if (smallerThan(value, WHOLE_CHARS)) {
    const text = JSON.stringify(value);
    return () => text;
  }
  const length = jsonByteLength(value);
  return () => {
    const sized = new FixedLengthStream(length);
    void jsonChunks(value)
      .pipeTo(sized.writable)
      .catch(() => undefined);
    return sized.readable;
  };
}
