// One Workers Analytics Engine data point per response end, when the deployment binds a dataset as
// `METRICS`; the column layout below is what docs/observability.md's SQL queries read. Without the
// binding nothing is written. Used by src/observe/response-end.ts.

import { causeOf, emit } from "./log";
import type { ResponseEnd } from "./response-end";

/** "Each index must not be more than 96 bytes" (Analytics Engine limits). */
const MAX_INDEX_BYTES = 96;
/** A model name is the client's text: cut so a point stays far below the 16 KB of blobs it may carry. */
const MAX_MODEL_CHARS = 256;

const encoder = new TextEncoder();

/** `text` cut to at most `bytes` bytes of UTF-8, on a character boundary. */
function cutToBytes(text: string, bytes: number): string {
  if (encoder.encode(text).length <= bytes) return text;
  let cut = text.slice(0, bytes);
  while (encoder.encode(cut).length > bytes) cut = cut.slice(0, -1);
  return cut;
}

/**
 * The data point: index1 = tenant (the sampling key: a busy tenant is sampled, a quiet one is not),
 * blobs = the dimensions, doubles = the measures. The order is the schema: add only at the end.
 */
export function dataPointOf(end: ResponseEnd): AnalyticsEngineDataPoint {
  return {
    indexes: [cutToBytes(end.tenant, MAX_INDEX_BYTES)],
    blobs: [
      end.model.slice(0, MAX_MODEL_CHARS), // blob1
      end.key_id ?? "", // blob2
      end.upstream ?? "", // blob3
      end.protocol ?? "", // blob4
      end.status, // blob5
      end.error_code ?? "", // blob6
      String(end.background), // blob7
      String(end.stream), // blob8
      String(end.store), // blob9
      end.recorded, // blob10
      end.ended_by, // blob11
      end.request_id ?? "", // blob12
      end.response_id, // blob13
      end.failed_by ?? "", // blob14
    ],
    doubles: [
      end.duration_ms, // double1
      end.ttfb_ms ?? -1, // double2 (-1: no headers came)
      end.first_event_ms ?? -1, // double3 (-1: no event came)
      end.events, // double4
      end.input_tokens, // double5
      end.output_tokens, // double6
      end.reasoning_tokens, // double7
      end.cached_tokens, // double8
      end.retries, // double9
    ],
  };
}

/** Writes the response's data point; a refused write is logged, never thrown (metrics never fail a response). */
export function writeResponseMetric(metrics: AnalyticsEngineDataset, end: ResponseEnd): void {
  try {
    metrics.writeDataPoint(dataPointOf(end));
  } catch (error) {
    emit("error", "failure", `metrics data point not written: ${causeOf(error)}`, {
      request_id: end.request_id,
      response_id: end.response_id,
    });
  }
}
