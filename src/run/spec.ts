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
}

export type StartResult =
  | { ok: true; response: ResponseObject }
  | {
      ok: false;
      status: number;
      error: { message: string; type: string; param: string | null; code: string | null };
      headers: Record<string, string>;
    };
