// The API objects of webhooks: endpoints as the openai SDK types them (`WebhookEndpoint`, with the
// signing secret only when it is created or rotated), and the gateway's delivery records with
// their attempts. Used by the webhook routes and the admin API.

import type { AttemptRow, DeliveryRow, EndpointRow } from "../db/webhooks";
import type { JsonObject } from "../responses/types";
import { secretHint } from "./sign";

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

/**
 * A delivery as its tenant sees it. One to the deployment's own webhook (`WEBHOOK_URL`, no endpoint)
 * shows no URL: it is the operator's, and a webhook URL's path often holds a token. The admin API
 * (`asOperator`) shows it.
 */
export function deliveryResource(row: DeliveryRow, attempts?: AttemptRow[], asOperator = false): JsonObject {
  return {
    id: row.id,
    object: "webhook_delivery",
    response_id: row.responseId,
    endpoint_id: row.endpointId,
    url: row.endpointId === null && !asOperator ? null : row.url,
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
