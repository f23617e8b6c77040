// POST /v1/responses/input_tokens and POST /v1/responses/compact: forwarded to a `responses`
// upstream, which is called statelessly, so `previous_response_id` or `conversation` is expanded
// into `input` first. A Chat Completions upstream has neither endpoint: a clear 400. Nothing is stored.

import { tenantStore } from "../db/shards";
import { invalidRequest } from "../errors";
import { authenticate } from "../http/auth";
import { readJsonObject } from "../http/json-body";
import { checkOneContext, validateConversation, validateInput } from "../responses/create-request";
import { missing, optional } from "../responses/validation";
import { expandContext } from "../run/context";
import { callOptions, callUpstream } from "../upstream/client";
import { chooseUpstream, targetOf } from "../upstream/registry";
import type { RouteContext } from "./context";

async function forward(route: RouteContext, path: "/responses/input_tokens" | "/responses/compact") {
  const { env, config, requestId } = route;
  const caller = await authenticate(route.request, env, route.ctx);
  const body = await readJsonObject(route.request, config.maxBodyBytes);
  const model = optional<string>(body, "model", "string");
  if (path === "/responses/compact" && model === undefined) throw missing("model");
  const input = validateInput(body.input);
  const previousResponseId = optional<string>(body, "previous_response_id", "string") ?? null;
  const conversationId = validateConversation(body.conversation);
  checkOneContext(previousResponseId, conversationId);
  const upstream = chooseUpstream(config, model ?? "", caller.upstreamKey);
  if (upstream.protocol !== "responses")
    throw invalidRequest(
      `POST /v1${path} is not supported by this model server: it speaks the Chat Completions protocol, which has no such endpoint.`,
      null,
      "unsupported_endpoint",
    );
  const forwarded = { ...body };
  if (previousResponseId !== null || conversationId !== null) {
    forwarded.input = await expandContext((await tenantStore(env, caller.tenantId)).reads(), caller.tenantId, {
      input,
      previousResponseId,
      conversationId,
    });
    delete forwarded.previous_response_id;
    delete forwarded.conversation;
  }
  const answer = await callUpstream(targetOf(upstream), forwarded, {
    ...callOptions(config, new AbortController().signal, requestId),
    path,
    accept: "application/json",
  });
  return new Response(answer.body, { status: answer.status, headers: { "content-type": "application/json" } });
}

export const countInputTokens = (route: RouteContext): Promise<Response> => forward(route, "/responses/input_tokens");

export const compactResponse = (route: RouteContext): Promise<Response> => forward(route, "/responses/compact");
