// Chooses the upstream for a request: its base URL, protocol adapter and key.
// Used by the create route (validation) and the ResponseRun DO (the call).

import type { GatewayConfig } from "../config";
import type { ProtocolName, UpstreamProtocol } from "./protocol";
import { chatCompletionsProtocol } from "./chat-completions";
import { responsesProtocol } from "./responses-protocol";
import type { UpstreamTarget } from "./client";

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
}

export function chooseUpstream(config: GatewayConfig, _model: string, clientKey: string | null): UpstreamChoice {
  return {
    baseUrl: config.upstream.baseUrl,
    protocol: config.upstream.protocol,
    apiKey: clientKey ?? config.upstream.apiKey,
  };
}

export const targetOf = (choice: UpstreamChoice): UpstreamTarget => ({
  baseUrl: choice.baseUrl,
  protocol: protocolFor(choice.protocol),
  apiKey: choice.apiKey,
});
