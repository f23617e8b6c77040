// `include_obfuscation=false` on a replay (GET /v1/responses/{id}?stream=true): the recorded delta
// events lose their `obfuscation` padding, as OpenAI's retrieve leaves it out when asked. Applied to
// the replay's bytes frame by frame; a replay without the parameter is not touched.

/** `,"obfuscation":"…"` in an event's JSON (a string value cannot hold an unescaped quote, so no value matches). */
const OBFUSCATION = /,"obfuscation":"(?:[^"\\]|\\.)*"/g;

/** `body` (SSE frames) with every event's `obfuscation` field taken out. */
export function withoutObfuscation(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = "";
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        pending += decoder.decode(chunk, { stream: true });
        // Only whole frames: a field may be cut between two chunks.
        const end = pending.lastIndexOf("\n\n");
        if (end === -1) return;
        controller.enqueue(encoder.encode(pending.slice(0, end + 2).replace(OBFUSCATION, "")));
        pending = pending.slice(end + 2);
      },
      flush(controller) {
        pending += decoder.decode();
        if (pending !== "") controller.enqueue(encoder.encode(pending.replace(OBFUSCATION, "")));
      },
    }),
  );
}
