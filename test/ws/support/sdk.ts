// Driving the `openai` SDK's ResponsesWS against the Worker: open it, send a `response.create`,
// and read that request's events (as the SDK parsed them) up to the one that ends it.

import type OpenAI from "openai";
import type { ResponsesServerEvent } from "openai/resources/responses/responses";
import { client } from "../../support/gateway";
import { GatewayResponsesWS } from "./gateway-socket";
import { ENDS_REQUEST } from "./frames";

export type SdkEvent = ResponsesServerEvent & { stream_id?: string };

/** A ResponsesWS whose events are read per lane, as they arrive. */
export class SdkSocket {
  readonly ws: GatewayResponsesWS;
  readonly openai: OpenAI;
  readonly #inbox: SdkEvent[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  /** WebSocketErrors the SDK raised (it raises one for every `error` event too). */
  readonly errors: Error[] = [];

  constructor(key = "sk-test-ws-sdk", overrides?: Record<string, unknown>) {
    this.openai = client(key);
    this.ws = new GatewayResponsesWS(this.openai, { overrides });
    this.ws.on("event", (event) => {
      this.#inbox.push(event);
      this.#wake?.();
    });
    this.ws.on("error", (error) => this.errors.push(error));
    this.ws.on("close", () => {
      this.#closed = true;
      this.#wake?.();
    });
  }

  /** The events of the next request on `lane` (`""`: the default lane), up to the one that ends it. */
  async request(lane = ""): Promise<SdkEvent[]> {
    const events: SdkEvent[] = [];
    for (;;) {
      const index = this.#inbox.findIndex((event) => (event.stream_id ?? "") === lane);
      if (index >= 0) {
        const event = this.#inbox.splice(index, 1)[0] as SdkEvent;
        events.push(event);
        if (ENDS_REQUEST.has(event.type)) return events;
        continue;
      }
      if (this.#closed) throw new Error(`socket closed after ${events.map((e) => e.type).join(", ")}`);
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** Sends a `response.create` and reads its events. */
  create(body: Omit<Extract<Parameters<GatewayResponsesWS["send"]>[0], { type: "response.create" }>, "type">) {
    this.ws.send({ type: "response.create", ...body });
    return this.request(body.stream_id ?? "");
  }

  close(): void {
    this.ws.close({ code: 1000, reason: "done" });
  }
}
