// The API objects of webhooks: endpoints as the openai SDK types them (`WebhookEndpoint`, with the
// signing secret only when it is created or rotated), and the gateway's delivery records with
// their attempts. Used by the webhook routes.

import type { AttemptRow, DeliveryRow, EndpointRow } from "../db/webhooks";
import type { JsonObject } from "../responses/types";

/** A masked hint that tells secrets apart without revealing them: the prefix and the last 4 characters. */
export const secretHint = (secret: string): string => `whsec_…${secret.slice(-4)}`;

export function endpointResource(row: EndpointRow): JsonObject {
  return {
    id: row.id,
    object: "webhook_endpoint",
    name: row.name,
    url: row.url,
    event_types: JSON.parse(row.eventTypes) as string[],
    created_at: row.createdAt,
    updated_at: row.updatedAt ?? row.createdAt,
    signing_secret_hint: secretHint(row.secret),
  };
}

/** Only right after create and rotate_secret: the secret is shown once. */
export const endpointWithSecret = (row: EndpointRow): JsonObject => ({
  ...endpointResource(row),
  signing_secret: row.secret,
});

export function attemptResource(row: AttemptRow): JsonObject {
  return {
    attempt: row.attempt,
    started_at: row.startedAt,
    duration_ms: row.durationMs,
    status_code: row.statusCode,
    error: row.error,
  };
}

export function deliveryResource(row: DeliveryRow, attempts?: AttemptRow[]): JsonObject {
  return {
    id: row.id,
    object: "webhook_delivery",
    response_id: row.responseId,
    endpoint_id: row.endpointId,
    url: row.url,
    event: JSON.parse(row.payload) as JsonObject,
    status: row.status,
    attempt_count: row.attempts,
    created_at: row.createdAt,
    last_attempt_at: row.lastAttemptAt,
    last_status_code: row.lastStatusCode,
    last_error: row.lastError,
    next_attempt_at: row.nextAttemptAt,
    ...(attempts === undefined ? {} : { attempts: attempts.map(attemptResource) }),
  };
}

/** OpenAI's cursor-list envelope. */
export function listResource(data: JsonObject[], hasMore: boolean): JsonObject {
  return {
    object: "list",
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: hasMore,
  };
}
