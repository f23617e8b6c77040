// WebSocket clients whose handshake goes through the Worker's own fetch handler instead of the
// network: a DOM-style `WebSocket` (what the Agents SDK and Codex-like raw clients use) and the
// `openai` SDK's ResponsesWS protocol client (ResponsesWSBase) on top of it. Used by test/ws/.

import { createExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import type OpenAI from "openai";
import { ResponsesWSBase, type ResponsesWSBaseOptions } from "openai/resources/responses/ws-base";
import worker from "../../../src/index";

type Fetcher = (request: Request) => Promise<Response>;

/** The real entry point (`exports.default.fetch`), or the Worker run with some vars overridden. */
export function fetcherFor(overrides?: Record<string, unknown>): Fetcher {
  if (overrides === undefined) return (request) => exports.default.fetch(request);
  const patched: Env = { ...env, ...overrides };
  return (request) => worker.fetch(request, patched, createExecutionContext());
}

export interface SocketInit {
  headers?: Record<string, string>;
  /** Env overrides for the Worker that answers the handshake. */
  overrides?: Record<string, unknown>;
}

/**
 * A browser-style WebSocket: `new GatewayWebSocket(url, { headers })`, `open`/`message`/`close`/`error`
 * events, `readyState`. The handshake is `GET` with `Upgrade: websocket` through the Worker; a refused
 * one (any status but 101) keeps its HTTP answer in `refusal` and closes with 1006, as a browser does.
 */
export class GatewayWebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 0;
  binaryType = "arraybuffer";
  readonly url: string;
  /** The HTTP answer of a refused handshake. */
  refusal: Response | undefined;
  /** The handshake's answer headers (101 or not). */
  handshake: Promise<Response>;
  #socket: WebSocket | undefined;

  constructor(url: string | URL, init: SocketInit = {}) {
    super();
    this.url = String(url);
    const target = new URL(this.url);
    target.protocol = target.protocol === "wss:" ? "https:" : "http:";
    const request = new Request(target, { headers: { ...init.headers, upgrade: "websocket" } });
    this.handshake = fetcherFor(init.overrides)(request);
    void this.handshake.then(
      (response) => this.#opened(response),
      (error: unknown) => this.#failed(error instanceof Error ? error.message : String(error)),
    );
  }

  #opened(response: Response): void {
    const socket = response.webSocket;
    if (response.status !== 101 || socket === null) {
      this.refusal = response;
      return this.#failed(`Unexpected server response: ${response.status}`);
    }
    socket.accept();
    this.#socket = socket;
    socket.addEventListener("message", (event) =>
      this.dispatchEvent(new MessageEvent("message", { data: event.data as unknown })),
    );
    socket.addEventListener("close", (event) => {
      this.readyState = this.CLOSED;
      this.dispatchEvent(new CloseEvent("close", { code: event.code, reason: event.reason, wasClean: true }));
    });
    socket.addEventListener("error", () => this.dispatchEvent(new Event("error")));
    if (this.readyState === this.CLOSING) return socket.close(1000, "closed before open");
    this.readyState = this.OPEN;
    this.dispatchEvent(new Event("open"));
  }

  #failed(message: string): void {
    this.readyState = this.CLOSED;
    const error = new ErrorEvent("error", { message, error: new Error(message) });
    this.dispatchEvent(error);
    this.dispatchEvent(new CloseEvent("close", { code: 1006, reason: "", wasClean: false }));
  }

  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.#socket === undefined || this.readyState !== this.OPEN) throw new Error("WebSocket is not open");
    this.#socket.send(data);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState === this.CLOSED) return;
    this.readyState = this.CLOSING;
    this.#socket?.close(code ?? 1000, reason ?? "");
  }
}

type Listener = (...args: never[]) => void;

/** The `openai` SDK's transport interface (`WebSocketLike`) over a GatewayWebSocket. */
class SdkSocket {
  readonly #socket: GatewayWebSocket;
  readonly #wrapped = new Map<Listener, EventListener>();

  constructor(socket: GatewayWebSocket) {
    this.#socket = socket;
  }

  get readyState(): number {
    return this.#socket.readyState;
  }

  send(data: string | ArrayBufferLike | ArrayBufferView): void {
    this.#socket.send(data as string);
  }

  close(code?: number, reason?: string): void {
    this.#socket.close(code, reason);
  }

  on(event: string, listener: Listener): void {
    const call = listener as (...args: unknown[]) => void;
    const wrapped: EventListener = (raw) => {
      if (event === "message") {
        const data = (raw as MessageEvent).data as unknown;
        call(data, typeof data !== "string");
      } else if (event === "close") call((raw as CloseEvent).code, (raw as CloseEvent).reason);
      else if (event === "error") call(new Error((raw as ErrorEvent).message || "WebSocket error"));
      else call();
    };
    this.#wrapped.set(listener, wrapped);
    this.#socket.addEventListener(event, wrapped);
  }

  off(event: string, listener: Listener): void {
    const wrapped = this.#wrapped.get(listener);
    if (wrapped === undefined) return;
    this.#wrapped.delete(listener);
    this.#socket.removeEventListener(event, wrapped);
  }

  once(event: string, listener: Listener): void {
    const once = ((...args: never[]) => {
      this.off(event, once);
      listener(...args);
    }) as Listener;
    this.on(event, once);
  }
}

/**
 * `openai`'s ResponsesWS, with the Node `ws` transport swapped for the Worker: everything else
 * (events, errors, the send queue, reconnects and their close-code rules) is the SDK's own code.
 */
export class GatewayResponsesWS extends ResponsesWSBase<SdkSocket> {
  readonly #overrides: Record<string, unknown> | undefined;

  constructor(client: OpenAI, options: ResponsesWSBaseOptions & { overrides?: Record<string, unknown> } = {}) {
    const { overrides, ...base } = options;
    super(client, base);
    this.#overrides = overrides;
    this._connectInitial();
  }

  protected override _createSocket(url: URL, authHeaders: Record<string, string>): SdkSocket {
    return new SdkSocket(new GatewayWebSocket(url, { headers: authHeaders, overrides: this.#overrides }));
  }
}
