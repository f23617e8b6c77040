// Chooses the upstream for a request: the first route whose pattern matches the model, else the
// default upstream; its base URL, protocol adapter, key and model name. Used by the create route
// (before anything is stored), the ResponseRun DO and the store:false path (the call), and the
// input_tokens/compact routes.

import { isHeaderToken, refuseIfMisconfigured, type GatewayConfig } from "../config";
import { ApiError } from "../errors";
import type { ReasoningSentAs } from "./chat-completions/reasoning-sent-as";
import type { ProtocolName, UpstreamProtocol } from "./protocol";
import type { ReasoningInput } from "./reasoning-input";
import { chatCompletionsOpenThinkProtocol, chatCompletionsProtocol } from "./chat-completions";
import { responsesProtocol } from "./responses-protocol";
import type { UpstreamTarget } from "./client";
import { matchRoute, readRoutes, type RequestFields } from "./routes";

export function protocolFor(name: ProtocolName): UpstreamProtocol {
  switch (name) {
    case "responses":
      return responsesProtocol;
    case "chat_completions":
      return chatCompletionsProtocol;
  }
}

/** What a run needs to reach its upstream; plain data so it can cross into the Durable Object. */
export interface UpstreamChoice {
  baseUrl: string;
  protocol: ProtocolName;
  apiKey: string | null;
  /** The model name sent upstream when a route rewrites it; null sends the request's own. */
  model?: string | null;
  /** A `generate: false` warm-up (WebSocket or HTTP): nothing is sent anywhere (src/upstream/warm-up.ts). */
  warmUp?: boolean;
  /** The key sent is the caller's own (pass-through): a refusal of it is the caller's to hear. */
  callersKey?: boolean;
  /** The route's `request_fields`: top-level fields left out or renamed before the body is sent. */
  requestFields?: RequestFields | null;
  /** The route's `template_opens_think` (chat only): the answer's content starts as reasoning. */
  templateOpensThink?: boolean;
  /** The route's `reasoning_sent_as` (chat only), when not the default `reasoning_content`. */
  reasoningSentAs?: ReasoningSentAs;
  /** The route's `alternate_roles` (chat only): consecutive user or assistant messages are merged. */
  alternateRoles?: boolean;
  /** The route's `reasoning_placeholder` (chat only): `reasoning_content` for tool-calling turns without one. */
  reasoningPlaceholder?: string;
  /** The route's `compaction: "gateway"` (responses only): the server has no `/responses/compact`. */
  gatewayCompaction?: boolean;
  /** The route's `reasoning_input` (responses only), when not the default `keep`. */
  reasoningInput?: ReasoningInput;
}

/** The operator's configuration is at fault, not the request: nothing a retry would fix. */
const misconfigured = (message: string) =>
  new ApiError(503, message, {
    type: "server_error",
    code: "upstream_misconfigured",
    headers: { "x-should-retry": "false" },
  });

/**
 * A route's named secret is its key; without one the caller's own key goes upstream (pass-through),
 * never the default upstream's `UPSTREAM_API_KEY`, which belongs to another server. A broken table
 * or a named secret that is not set fails the request (503) instead of sending it, with a key it
 * was not meant for, to a server it was not meant for; so does any other wrong upstream setting (500).
 */
export function chooseUpstream(config: GatewayConfig, model: string, clientKey: string | null): UpstreamChoice {
  refuseIfMisconfigured(config, "upstream calls");
  const table = readRoutes(config.routes);
  if (!table.ok) throw misconfigured(`The gateway's upstream routing table is invalid: ${table.problem}`);
  const route = matchRoute(table.routes, model);
  if (route === undefined)
    return {
      baseUrl: config.upstream.baseUrl,
      protocol: config.upstream.protocol,
      apiKey: clientKey ?? config.upstream.apiKey,
      callersKey: clientKey !== null,
      ...(config.upstream.compaction === "gateway" ? { gatewayCompaction: true } : {}),
      ...(config.upstream.reasoningInput !== "keep" ? { reasoningInput: config.upstream.reasoningInput } : {}),
    };
  if (route.apiKey === undefined)
    throw misconfigured(
      `The upstream for model '${model}' needs the secret '${route.apiKeySecret ?? ""}', which is not set.`,
    );
  // As UPSTREAM_API_KEY: a key with a space or newline in it is a paste gone wrong, never a key.
  if (route.apiKey !== null && !isHeaderToken(route.apiKey))
    throw misconfigured(
      `The upstream for model '${model}' needs the secret '${route.apiKeySecret ?? ""}', which holds spaces or control characters (${route.apiKey.length} characters).`,
    );
  const rewritten =
    route.stripPrefix !== null && model.startsWith(route.stripPrefix) ? model.slice(route.stripPrefix.length) : null;
  return {
    baseUrl: route.baseUrl,
    protocol: route.protocol,
    apiKey: route.apiKey ?? clientKey,
    model: rewritten,
    callersKey: route.apiKey === null && clientKey !== null,
    requestFields: route.requestFields,
    ...(route.templateOpensThink ? { templateOpensThink: true } : {}),
    ...(route.reasoningSentAs !== "reasoning_content" ? { reasoningSentAs: route.reasoningSentAs } : {}),
    ...(route.alternateRoles ? { alternateRoles: true } : {}),
    ...(route.reasoningPlaceholder !== null ? { reasoningPlaceholder: route.reasoningPlaceholder } : {}),
    ...(route.gatewayCompaction ? { gatewayCompaction: true } : {}),
    ...(route.reasoningInput !== "keep" ? { reasoningInput: route.reasoningInput } : {}),
  };
}

/** A warm-up of `choice`: answered by the gateway itself in the Responses protocol, whatever the route's. */
export const warmUpChoice = (choice: UpstreamChoice): UpstreamChoice => ({
  ...choice,
  protocol: "responses",
  warmUp: true,
});

export const targetOf = (choice: UpstreamChoice): UpstreamTarget => ({
  baseUrl: choice.baseUrl,
  protocol:
    choice.protocol === "chat_completions" && choice.templateOpensThink === true
      ? chatCompletionsOpenThinkProtocol
      : protocolFor(choice.protocol),
  apiKey: choice.apiKey,
  model: choice.model ?? null,
  warmUp: choice.warmUp === true,
  callersKey: choice.callersKey === true,
  requestFields: choice.requestFields ?? null,
  templateOpensThink: choice.templateOpensThink === true,
  reasoningSentAs: choice.reasoningSentAs ?? "reasoning_content",
  alternateRoles: choice.alternateRoles === true,
  reasoningPlaceholder: choice.reasoningPlaceholder ?? null,
  gatewayCompaction: choice.gatewayCompaction === true,
  reasoningInput: choice.reasoningInput ?? "keep",
});
