// Reads an upstream body to the end: bytes -> SSE messages -> protocol translator -> normalizer,
// handing each batch of normalized events to a sink. Enforces the idle timeout and the body and
// event size caps; every failure ends the response with a terminal event. Used by the DO and the
// store:false path. The sink may hold the pump back (a slow client): only time spent waiting on
// the upstream counts as idle, never time spent waiting on the sink.

import type { GatewayConfig } from "../config";
import type { NormalizedEvent, StreamNormalizer } from "../responses/normalizer";
import { responseError, type ResponseError } from "../responses/types";
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

/** The configured limits of a pump (the idle timeout and the upstream caps), reading with `abort`. */
export function pumpOptions(config: GatewayConfig, abort: AbortController): PumpOptions {
  return {
    abort,
    idleTimeoutMs: config.idleTimeoutMs,
    maxBodyBytes: config.maxUpstreamBodyBytes,
    maxEventBytes: config.maxUpstreamEventBytes,
  };
}

const failure = (message: string): ResponseError => responseError("server_error", message);

/** Why the pump stopped: the stream ended (terminal sent), or it was aborted from outside. */
export type PumpEnd = "finished" | "aborted";

/**
 * Pumps `response` into `sink`. The sink may return a promise to hold the pump back (backpressure:
 * it resolves when the consumer has taken the events); the next chunk is read only after it
 * resolves, and the time it takes is not upstream silence. So a sink that never resolves holds the
 * upstream open: its owner bounds that (it aborts `options.abort` when its consumer is gone).
 */
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
  // A sign-in page of a proxy, or a base URL naming a web site: said as such, not as a cut stream.
  if (/^\s*text\/html/i.test(contentType)) {
    await body.cancel().catch(() => undefined);
    const type = contentType.split(";")[0]?.trim() ?? "text/html";
    await sink(
      normalizer.fail(
        failure(`The upstream answered with a web page (${type}), not an event stream: is its base URL the API's?`),
        "upstream_stream",
      ),
    );
    return "finished";
  }
  // What a translator repairs is logged as the normalizer's own repairs are.
  const translation: TranslationContext = { ...context, onAnomaly: (message) => normalizer.anomaly(message) };
  const translator = protocol.createTranslator(translation);
  const decoder = new SseDecoder(options.maxEventBytes);
  const isJson = contentType.includes("application/json");
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  let received = 0;
  let jsonText = "";
  const text = new TextDecoder();
  // One timer per idle period, not one per chunk: a read only notes when it began waiting; when
  // the timer fires early it is set again for what is left of the period. Upstream silence is the
  // time a read has been waiting: while the pump waits on the sink instead (a client that pauses
  // reading holds it back), nothing is waiting on the upstream, and the period starts again.
  let waitingSince: number | null = null;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const watchIdle = (wait: number) => {
    idleTimer = setTimeout(() => {
      const idleFor = waitingSince === null ? 0 : Date.now() - waitingSince;
      if (idleFor >= options.idleTimeoutMs) options.abort.abort(new UpstreamTimeout("idle"));
      else watchIdle(options.idleTimeoutMs - idleFor);
    }, wait);
  };
  const read = async () => {
    waitingSince = Date.now();
    try {
      return await reader.read();
    } finally {
      waitingSince = null;
    }
  };

  /** Normalizes a batch of adapter events; the caller hands the result to the sink once per chunk. */
  const normalize = (batch: ReturnType<typeof translator.push>, out: NormalizedEvent[]) => {
    for (const event of batch) {
      if (normalizer.terminal) return;
      for (const normalized of normalizer.accept(event)) out.push(normalized);
    }
  };
  const send = async (out: NormalizedEvent[]) => {
    if (out.length === 0) return;
    const pending = sink(out);
    if (pending !== undefined) await pending;
  };

  try {
    watchIdle(options.idleTimeoutMs);
    for (;;) {
      const { done, value } = await read();
      if (done) break;
      received += value.byteLength;
      if (received > options.maxBodyBytes) {
        await sink(
          normalizer.fail(failure(`The upstream response exceeded ${options.maxBodyBytes} bytes.`), "upstream_stream"),
        );
        break;
      }
      if (isJson) {
        // A JSON body is parsed whole, so it is held in memory: one event's cap applies to it.
        if (received > options.maxEventBytes) throw new UpstreamEventTooLarge(options.maxEventBytes);
        jsonText += text.decode(value, { stream: true });
        continue;
      }
      // Everything one network chunk carries goes to the sink together: one write, one wake-up.
      const out: NormalizedEvent[] = [];
      for (const message of decoder.feed(value)) {
        try {
          normalize(translator.push(message), out);
        } catch (error) {
          const message =
            error instanceof SyntaxError
              ? "The upstream sent an event that is not valid JSON."
              : "The upstream sent an event the gateway could not translate.";
          for (const failed of normalizer.fail(failure(message), "upstream_stream")) out.push(failed);
        }
        if (normalizer.terminal) break;
      }
      await send(out);
      if (normalizer.terminal) break;
    }
    if (!normalizer.terminal) {
      const out: NormalizedEvent[] = [];
      if (isJson) {
        normalize(protocol.eventsFromBody(JSON.parse(jsonText + text.decode()), translation), out);
      } else {
        for (const message of decoder.end()) normalize(translator.push(message), out);
        normalize(translator.finish(), out);
      }
      for (const closing of normalizer.finish()) out.push(closing);
      await send(out);
    }
    return "finished";
  } catch (error) {
    const reason: unknown = options.abort.signal.reason;
    if (options.abort.signal.aborted && !(reason instanceof UpstreamTimeout)) return "aborted";
    if (reason instanceof UpstreamTimeout)
      await sink(
        normalizer.fail(
          failure(`The upstream stream was idle for more than ${Math.round(options.idleTimeoutMs / 1000)} seconds.`),
          "upstream_idle",
        ),
      );
    else if (error instanceof UpstreamEventTooLarge)
      await sink(normalizer.fail(failure(error.message), "upstream_stream"));
    else if (error instanceof SyntaxError)
      await sink(normalizer.fail(failure("The upstream sent an event that is not valid JSON."), "upstream_stream"));
    else
      await sink(
        normalizer.fail(failure("The upstream connection failed before the response was complete."), "upstream_stream"),
      );
    return "finished";
  } finally {
    if (idleTimer !== undefined) clearTimeout(idleTimer);
    if (normalizer.terminal || options.abort.signal.aborted) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
