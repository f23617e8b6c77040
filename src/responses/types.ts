// Wire types of the Responses domain, loose on purpose: upstream payloads are untrusted and
// pass through with fields we do not know. Used by the reducer, adapters, the run and routes.

export type JsonObject = { [key: string]: unknown };

export type ResponseStatus = "queued" | "in_progress" | "completed" | "failed" | "incomplete" | "cancelled";

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(["completed", "failed", "incomplete", "cancelled"]);

/** A Response object as OpenAI serializes it: every field present, nulls included. */
export interface ResponseObject extends JsonObject {
  id: string;
  object: "response";
  created_at: number;
  status: ResponseStatus;
  output: OutputItem[];
}

/** An output (or replayed input) item: `message`, `function_call`, `reasoning`, hosted tool calls... */
export interface OutputItem extends JsonObject {
  type: string;
  id?: string;
}

/** An input item as a client sends it (`EasyInputMessage`, `function_call_output`, ...). */
export type InputItem = JsonObject;

/** A Responses stream event. `sequence_number` is assigned by the gateway's normalizer. */
export interface StreamEvent extends JsonObject {
  type: string;
  sequence_number?: number;
}

export const LIFECYCLE_EVENTS: ReadonlySet<string> = new Set([
  "response.created",
  "response.queued",
  "response.in_progress",
  "response.completed",
  "response.failed",
  "response.incomplete",
]);

export const TERMINAL_EVENTS: ReadonlySet<string> = new Set([
  "response.completed",
  "response.failed",
  "response.incomplete",
]);

/** The `error` a failed Response carries (`ResponseError`). */
export interface ResponseError {
  code: string;
  message: string;
}

/** A string field of an untrusted object, or "" when absent or not a string. */
export const textOf = (value: unknown): string => (typeof value === "string" ? value : "");
