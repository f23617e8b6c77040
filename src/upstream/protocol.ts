// The seam between the gateway and a model server's wire protocol. One implementation per
// protocol (`responses` pass-through, `chat_completions` translation); the run and the store:false
// path only ever talk to this interface.

import type { CreateRequest } from "../responses/create-request";
import type { InputItem, JsonObject, OutputItem, ResponseObject, StreamEvent } from "../responses/types";
import type { SseMessage } from "../sse";
import type { ReasoningSeal } from "./reasoning-seal";

export type ProtocolName = "responses" | "chat_completions";

export interface TranslationContext {
  request: CreateRequest;
  /** The gateway's Response before any output (every field set): translators spread it into snapshots. */
  base: ResponseObject;
  /**
   * The full context sent upstream (chain or conversation expanded), as given to `buildBody`: the
   * chat translator maps calls of tools that context loaded (tool_search_output) back by it.
   * Without it, the request's own input is used.
   */
  input?: InputItem[];
  /**
   * A compaction item the gateway made before calling the upstream (create-time compaction for a
   * chat upstream): the response's output opens with it, and its usage adds to the response's.
   */
  compaction?: { item: OutputItem; usage: JsonObject };
  /**
   * Chat: the route's chat template writes the opening `<think>` into the prompt (a route's
   * `template_opens_think`), so the answer's content starts as reasoning, up to `</think>`.
   */
  templateOpensThink?: boolean;
  /**
   * Chat: the `encrypted_content` of each reasoning item the answer makes, from its text (the text
   * sealed, or the gateway's bare mark). Without it, the mark.
   */
  sealReasoning?: ReasoningSeal;
  /** Called for what the translator repaired in the upstream's stream (logged as `upstream_anomaly`, each kind once a response). */
  onAnomaly?: (message: string) => void;
}

/** Turns the upstream's SSE messages into Responses events (sequence numbers are assigned later). */
export interface EventTranslator {
  push(message: SseMessage): StreamEvent[];
  /** The upstream body ended; returns any closing events (a terminal one, if the protocol implies it). */
  finish(): StreamEvent[];
}

export interface UpstreamProtocol {
  readonly name: ProtocolName;
  /** Path appended to the upstream base URL. */
  readonly path: string;
  /** Throws an `ApiError` (400) for requests this protocol cannot serve; runs before anything is stored. */
  validate(request: CreateRequest): void;
  /**
   * Throws an `ApiError` (400) for a full context (chain or conversation expanded) this protocol
   * cannot send; runs after expansion, before anything is stored. A Responses upstream checks its own.
   */
  checkContext?(input: readonly InputItem[]): void;
  /** The JSON body sent upstream; `input` is the full context (chain or conversation expanded). */
  buildBody(request: CreateRequest, input: InputItem[]): JsonObject;
  createTranslator(context: TranslationContext): EventTranslator;
  /** Events for an upstream that answered with a complete JSON body instead of a stream. */
  eventsFromBody(body: unknown, context: TranslationContext): StreamEvent[];
  /** The client's name for a field an upstream error's `param` names, where the body renamed it. */
  errorParam?(param: string): string;
}
