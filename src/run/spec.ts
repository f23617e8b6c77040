// What the Worker hands a ResponseRun: the validated request and where to send it. Plain data
// (it crosses the RPC boundary); the upstream key lives only in memory, never in storage.

import type { CreateRequest } from "../responses/create-request";
import type { ResponseObject } from "../responses/types";
import type { UpstreamChoice } from "../upstream/registry";
import type { ResponseEcho } from "../responses/response-object";

export interface RunSpec {
  responseId: string;
  tenantId: string;
  apiKeyId: string | null;
  requestId: string;
  createdAt: number;
  request: CreateRequest;
  upstream: UpstreamChoice;
}

export type RunMode = "stream" | "wait" | "background";

/** The run's durable record in the DO (no secrets). */
export interface RunState {
  responseId: string;
  tenantId: string;
  background: boolean;
  status: string;
  startedAt: number;
  deadlineAt: number;
  echo: ResponseEcho;
  initial: ResponseObject;
  inputCount: number;
  /** Last sequence number written to D1 (-1: none). */
  flushedUpTo: number;
  /** The response row exists in D1. */
  rowWritten: boolean;
  /** The terminal write reached D1. */
  finalWritten: boolean;
  terminalAt: number | null;
}

export type StartResult =
  | { ok: true; response: ResponseObject }
  | {
      ok: false;
      status: number;
      error: { message: string; type: string; param: string | null; code: string | null };
      headers: Record<string, string>;
    };
