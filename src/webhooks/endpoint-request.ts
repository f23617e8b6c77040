// Validates the bodies of `POST /v1/webhook_endpoints` (create) and `POST /v1/webhook_endpoints/{id}`
// (update), in the openai SDK's shape (`url`, `name`, `event_types`), and of the admin API's
// `POST /admin/tenants/{id}/webhook_endpoints` (the same fields with defaults, and an optional
// `secret`), with OpenAI's 400 wording. Used by the webhook endpoint routes and the admin API.

import { invalidRequest } from "../errors";
import { checkMaxCharacters, invalidType, isPlainObject, missing, optional } from "../responses/validation";
import { isWebhookEventType, WEBHOOK_EVENT_TYPES, type WebhookEventType } from "./event";
import { MAX_SECRET_BYTES, MIN_SECRET_BYTES, secretKey } from "./sign";
import { checkWebhookUrl } from "./target";

/** Longest endpoint name (a label for people, not a payload). */
export const MAX_ENDPOINT_NAME_CHARS = 256;

export interface EndpointChanges {
  url?: string;
  name?: string;
  eventTypes?: WebhookEventType[];
}

/** One event type the gateway sends, or a 400 naming `param` (an endpoint's `event_types[i]`, a test's `event_type`). */
export function eventType(value: unknown, param: string): WebhookEventType {
  if (typeof value !== "string") throw invalidType(param, "a string", value);
  if (!isWebhookEventType(value))
    throw invalidRequest(
      `Invalid '${param}': '${value.slice(0, 64)}' is not sent by this gateway. Supported values are: ${WEBHOOK_EVENT_TYPES.map((t) => `'${t}'`).join(", ")}.`,
      param,
      "invalid_value",
    );
  return value;
}

function eventTypes(value: unknown): WebhookEventType[] {
  if (!Array.isArray(value)) throw invalidType("event_types", "an array", value);
  if (value.length === 0)
    throw invalidRequest("Invalid 'event_types': expected at least one event type.", "event_types", "empty_array");
  return [...new Set(value.map((type, index) => eventType(type, `event_types[${index}]`)))];
}

function name(value: unknown): string {
  if (typeof value !== "string") throw invalidType("name", "a string", value);
  checkMaxCharacters("name", value, MAX_ENDPOINT_NAME_CHARS);
  return value;
}

function fields(body: unknown, allowLoopback: boolean): EndpointChanges {
  if (!isPlainObject(body)) throw invalidType("body", "an object", body);
  const changes: EndpointChanges = {};
  const url = optional<string>(body, "url", "string", false);
  if (url !== undefined) changes.url = checkWebhookUrl(url, allowLoopback);
  if (body.name !== undefined) changes.name = name(body.name);
  if (body.event_types !== undefined) changes.eventTypes = eventTypes(body.event_types);
  return changes;
}

export function validateEndpointCreate(body: unknown, allowLoopback: boolean): Required<EndpointChanges> {
  const changes = fields(body, allowLoopback);
  if (changes.url === undefined) throw missing("url");
  if (changes.name === undefined) throw missing("name");
  if (changes.eventTypes === undefined) throw missing("event_types");
  return { url: changes.url, name: changes.name, eventTypes: changes.eventTypes };
}

export const validateEndpointUpdate = fields;

export interface TenantEndpointInput extends Required<EndpointChanges> {
  /** The signing secret the operator chose; undefined: a new one is minted. */
  secret: string | undefined;
}

/**
 * The admin API's create body: `url` is required; `name` defaults to "", `event_types` to every
 * event the gateway sends, and `secret` (a `whsec_` secret of 24-64 bytes) to a new one.
 */
export function validateTenantEndpointCreate(body: unknown, allowLoopback: boolean): TenantEndpointInput {
  const changes = fields(body, allowLoopback);
  if (changes.url === undefined) throw missing("url");
  const secret = optional<string>(body as Record<string, unknown>, "secret", "string");
  if (secret !== undefined && secretKey(secret) === null)
    throw invalidRequest(
      `Invalid 'secret': expected 'whsec_' followed by base64 of ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes.`,
      "secret",
      "invalid_value",
    );
  return {
    url: changes.url,
    name: changes.name ?? "",
    eventTypes: changes.eventTypes ?? [...WEBHOOK_EVENT_TYPES],
    secret,
  };
}
