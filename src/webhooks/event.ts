// The webhook events of background responses, as OpenAI sends them: one per terminal status, with
// a body of `{"object":"event","id":"evt_…","type","created_at","data":{"id":"resp_…"}}`.
// Used by delivery planning (the DO) and by the endpoint routes (event type filters).

import { newId } from "../responses/ids";

export const WEBHOOK_EVENT_TYPES = [
  "response.completed",
  "response.failed",
  "response.cancelled",
  "response.incomplete",
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const isWebhookEventType = (value: unknown): value is WebhookEventType =>
  (WEBHOOK_EVENT_TYPES as readonly unknown[]).includes(value);

/** The event a response's terminal status sends, or null for a status that is not terminal. */
export function eventTypeOf(status: string): WebhookEventType | null {
  const type = `response.${status}`;
  return isWebhookEventType(type) ? type : null;
}

export interface WebhookEvent {
  id: string;
  type: WebhookEventType;
  createdAt: number;
  /** The exact body every attempt signs and sends. */
  payload: string;
}

/** `createdAt`: when the response reached its terminal status (unix seconds). */
export function webhookEvent(type: WebhookEventType, responseId: string, createdAt: number): WebhookEvent {
  const id = newId("evt");
  const payload = JSON.stringify({ object: "event", id, type, created_at: createdAt, data: { id: responseId } });
  return { id, type, createdAt, payload };
}
