// Reads an upstream body to the end: bytes -> SSE messages -> protocol translator -> normalizer,
// handing each batch of normalized events to a sink. Enforces the idle timeout and the body and
// event size caps; every failure ends the response with a terminal event. Used by the DO and the
// store:false path.

import type { NormalizedEvent, StreamNormalizer } from "../responses/normalizer";
import type { ResponseError } from "../responses/types";
import { SseDecoder, UpstreamEventTooLarge } from "../sse";
import { UpstreamTimeout } from "../upstream/client";
import type { TranslationContext, UpstreamProtocol } from "../upstream/protocol";

export interface PumpOptions {
  /** The controller whose signal the upstream fetch was made with. */
  abort: AbortController;
  idleTimeoutMs: number;
  /** Bytes read from the body before the response is failed (`UPSTREAM_MAX_BODY_BYTES`). */
  maxBodyBytes: number;
  /** Largest event, or whole JSON body, held in memory (`UPSTREAM_MAX_EVENT_BYTES`). */
  maxEventBytes: number;
  onAnomaly?: (message: string) => void;
}

const failure = (message: string): ResponseError => ({ code: "server_error", message });

/** Why the pump stopped: the stream ended (terminal sent), or it was aborted from outside. */
export type PumpEnd = "finished" | "aborted";

export async function pump(
  response: Response,
  protocol: UpstreamProtocol,
  context: TranslationContext,
  normalizer: StreamNormalizer,
  sink: (events: NormalizedEvent[]) => void | Promise<void>,
  options: PumpOptions,
): Promise<PumpEnd> {
  const contentType = response.headers.get("content-type") ?? "";
  const body = response.body;
  if (body === null) {
    await sink(normalizer.finish());
    return "finished";
  }
  const translator = protocol.createTranslator(context);
  const decoder = new SseDecoder(options.maxEventBytes);
  const isJson = contentType.includes("application/json");
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  let received = 0;
  let jsonText = "";
  const text = new TextDecoder();
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const armIdle = () => {
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => options.abort.abort(new UpstreamTimeout("idle")), options.idleTimeoutMs);
  };

  const accept = async (batch: ReturnType<typeof translator.push>) => {
    const out: NormalizedEvent[] = [];
    for (const event of batch) {
      out.push(...normalizer.accept(event));
      if (normalizer.terminal) break;
    }
    if (out.length === 0) return;
    const pending = sink(out);
    if (pending !== undefined) await pending;
  };

  try {
    armIdle();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      armIdle();
      received += value.byteLength;
      if (received > options.maxBodyBytes) {
        await sink(normalizer.fail(failure(`The upstream response exceeded ${options.maxBodyBytes} bytes.`)));
        break;
      }
      if (isJson) {
        // A JSON body is parsed whole, so it is held in memory: one event's cap applies to it.
        if (received > options.maxEventBytes) throw new UpstreamEventTooLarge(options.maxEventBytes);
        jsonText += text.decode(value, { stream: true });
        continue;
      }
      for (const message of decoder.feed(value)) {
        let events;
        try {
          events = translator.push(message);
        } catch {
          await sink(normalizer.fail(failure("The upstream sent an event that is not valid JSON.")));
          break;
        }
        await accept(events);
        if (normalizer.terminal) break;
      }
      if (normalizer.terminal) break;
    }
    if (!normalizer.terminal) {
      if (isJson) {
        await accept(protocol.eventsFromBody(JSON.parse(jsonText + text.decode()), context));
      } else {
        for (const message of decoder.end()) await accept(translator.push(message));
        await accept(translator.finish());
      }
      await sink(normalizer.finish());
    }
    return "finished";
  } catch (error) {
    const reason: unknown = options.abort.signal.reason;
    if (options.abort.signal.aborted && !(reason instanceof UpstreamTimeout)) return "aborted";
    if (reason instanceof UpstreamTimeout)
      await sink(
        normalizer.fail(
          failure(`The upstream stream was idle for more than ${Math.round(options.idleTimeoutMs / 1000)} seconds.`),
        ),
      );
    else if (error instanceof UpstreamEventTooLarge) await sink(normalizer.fail(failure(error.message)));
    else if (error instanceof SyntaxError)
      await sink(normalizer.fail(failure("The upstream sent an event that is not valid JSON.")));
    else await sink(normalizer.fail(failure("The upstream connection failed before the response was complete.")));
    return "finished";
  } finally {
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    if (normalizer.terminal || options.abort.signal.aborted) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
