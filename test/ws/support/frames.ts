// A raw client of the socket, as Codex is one: open it with any headers, send frames, read the
// server's frames in order (per lane), wait for the close. Keeps a transcript of both directions.

import { GATEWAY_URL } from "../../support/gateway";
import { GatewayWebSocket, type SocketInit } from "./gateway-socket";

export type ServerEvent = Record<string, unknown> & { type: string };

/** Events that end one request on the socket. */
export const ENDS_REQUEST = new Set(["response.completed", "response.failed", "response.incomplete", "error"]);

export const SOCKET_URL = `${GATEWAY_URL.replace(/^http/, "ws")}/responses`;

export interface Closed {
  code: number;
  reason: string;
}

export class RawSocket {
  readonly socket: GatewayWebSocket;
  /** Every frame, both ways, in order: `>` sent, `<` received. */
  readonly transcript: string[] = [];
  readonly closed: Promise<Closed>;
  readonly #inbox: ServerEvent[] = [];
  #wake: (() => void) | undefined;
  #closedWith: Closed | undefined;

  private constructor(socket: GatewayWebSocket) {
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      const text = (event as MessageEvent).data as string;
      this.transcript.push(`< ${text}`);
      this.#inbox.push(JSON.parse(text) as ServerEvent);
      this.#wake?.();
    });
    this.closed = new Promise((resolve) =>
      socket.addEventListener("close", (event) => {
        this.#closedWith = { code: (event as CloseEvent).code, reason: (event as CloseEvent).reason };
        this.#wake?.();
        resolve(this.#closedWith);
      }),
    );
  }

  /** Opens a socket with the test key (or `headers`); rejects with the HTTP answer if refused. */
  static async open(init: SocketInit = {}, key = "sk-test-ws"): Promise<RawSocket> {
    const socket = new GatewayWebSocket(SOCKET_URL, {
      ...init,
      headers: { authorization: `Bearer ${key}`, ...init.headers },
    });
    const raw = new RawSocket(socket);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve());
      socket.addEventListener("close", () => reject(new Error(`handshake refused: ${socket.refusal?.status}`)));
    });
    return raw;
  }

  /** Sends a text frame (an object is sent as its JSON), or a binary one for an ArrayBuffer. */
  send(event: unknown): void {
    if (event instanceof ArrayBuffer) {
      this.transcript.push(`> (binary, ${event.byteLength} bytes)`);
      return this.socket.send(event);
    }
    const text = typeof event === "string" ? event : JSON.stringify(event);
    this.transcript.push(`> ${text}`);
    this.socket.send(text);
  }

  /** The next frame from the server (of `lane`, when given: `""` is the default lane); null once closed. */
  async next(lane?: string): Promise<ServerEvent | null> {
    for (;;) {
      const index = this.#inbox.findIndex((event) => lane === undefined || (event.stream_id ?? "") === lane);
      if (index >= 0) return this.#inbox.splice(index, 1)[0] as ServerEvent;
      if (this.#closedWith !== undefined) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** The frames of one request on `lane`, up to the one that ends it. */
  async request(lane?: string): Promise<ServerEvent[]> {
    const events: ServerEvent[] = [];
    for (;;) {
      const event = await this.next(lane);
      if (event === null) throw new Error(`socket closed after ${events.map((e) => e.type).join(", ")}`);
      events.push(event);
      if (ENDS_REQUEST.has(event.type)) return events;
    }
  }

  /** Sends a `response.create` and reads its events to the end. */
  async create(body: Record<string, unknown>): Promise<ServerEvent[]> {
    this.send({ type: "response.create", ...body });
    return this.request(typeof body.stream_id === "string" ? body.stream_id : "");
  }

  /** Frames received and not read yet. */
  get unread(): ServerEvent[] {
    return [...this.#inbox];
  }

  close(code = 1000): void {
    this.socket.close(code, "done");
  }
}

/** The response a request's terminal event carries. */
export function finalResponse(events: ServerEvent[]): Record<string, unknown> & { id: string; output: unknown[] } {
  const last = events.at(-1);
  if (last === undefined || last.type === "error") throw new Error(`request failed: ${JSON.stringify(last)}`);
  return last.response as Record<string, unknown> & { id: string; output: unknown[] };
}
