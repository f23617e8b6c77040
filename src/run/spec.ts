// What the Worker hands a run: the validated request and where to send it. Plain data (it crosses
// the RPC boundary into the background Durable Object); the upstream key lives only in memory.

import type { CreateRequest } from "../responses/create-request";
import type { ResponseObject } from "../responses/types";
import type { UpstreamChoice } from "../upstream/registry";

export interface RunSpec {
  responseId: string;
  tenantId: string;
  apiKeyId: string | null;
  requestId: string;
  createdAt: number;
  request: CreateRequest;
  upstream: UpstreamChoice;
  /**
   * A background create's MAX_BACKGROUND_RUNS_PER_TENANT as the Worker read it: its run counts the
   * tenant's runs again against it once its row is written (src/run/background-cap.ts).
   */
  backgroundCap?: number;
  /**
   * A `store: false` create recorded under RECORD_STORE_FALSE: its row is kept as a stored one's
   * (listed, chained, retained), while its Response still says `store: false`.
   */
  recorded?: true;
}

export type StartResult =
  | { ok: true; response: ResponseObject }
  | {
      ok: false;
      status: number;
      error: { message: string; type: string; param: string | null; code: string | null };
      headers: Record<string, string>;
    };
