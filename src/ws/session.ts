// One WebSocket connection on `/v1/responses`, whoever owns the socket: reads client frames, keeps
// the lanes, the in-flight cap, the continuation cache and the connection's time limit, and writes
// server events through a transport. Owner-independent: src/ws/worker-owner.ts wires it to a
// WebSocketPair held by the Worker; a Durable Object owner would wire the same class.

import { ApiError } from "../errors";
import { readClientEvent } from "./client-events";
import { ContinuationCache } from "./continuation-cache";
import { runCreate, type CreateContext, type CreateEvent } from "./create-run";
import { LaneScheduler } from "./lanes";
import { CLOSE, MAX_NAMED_LANES, MAX_PENDING_REFUSALS, MAX_QUEUED_BYTES } from "./limits";
import { responseStatus, runTurn, type GatewayFetch, type Turn } from "./run-turn";
import { apiErrorEvent, steerFailed } from "./server-events";

/** What the session needs of the socket itself. */
export interface SocketTransport {
  send(text: string): void;
  close(code: number, reason: string): void;
}

export interface SessionOptions {
  /** The gateway's own fetch handler, bound to the connection's bindings. */
  gateway: GatewayFetch;
  /** Origin of the handshake; internal requests are addressed to it. */
  origin: URL;
  /** The handshake's credentials (`Authorization`), sent with every internal request. */
  credentials: Headers;
  maxFrameBytes: number;
  maxConnectionMs: number;
}

const connectionLimit = (limit: string) =>
  new ApiError(
    400,
    `Responses websocket connection limit reached (${limit}). Create a new websocket connection to continue.`,
    { code: "websocket_connection_limit_reached" },
  );

const streamLimit = () =>
  new ApiError(
    400,
    `Too many streams on this connection: at most ${MAX_NAMED_LANES} stream_id values may be in use at once.`,
    { param: "stream_id", code: "websocket_stream_limit_reached" },
  );

/** What every other request gets when one create found the connection's key refused. */
const keyRefusal = () =>
  new ApiError(401, "The API key was refused on this connection, which is closing; reconnect with a valid key.", {
    code: "invalid_api_key",
  });

const queueFull = () =>
  new ApiError(
    429,
    `Too many response.create events are waiting on this connection (over ${MAX_QUEUED_BYTES} bytes); wait for some to finish.`,
    { type: "rate_limit_error", code: "websocket_queue_full" },
  );

export class ResponsesSocket {
  readonly #transport: SocketTransport;
  readonly #options: SessionOptions;
  readonly #cache = new ContinuationCache();
  readonly #lanes = new LaneScheduler(() => this.#idle());
  readonly #turns = new Set<Turn>();
  readonly #deadline: ReturnType<typeof setTimeout>;
  #open = true;
  /** Past the connection's time limit: nothing new starts; it closes once the running turns end. */
  #expired = false;
  /** A create found the key refused (revoked): nothing new starts, and the socket closes once idle. */
  #keyRevoked = false;
  /** Refusals waiting for their lane (see #refuseAfterLane). */
  #pendingRefusals = 0;

  constructor(transport: SocketTransport, options: SessionOptions) {
    this.#transport = transport;
    this.#options = options;
    this.#deadline = setTimeout(() => this.#expire(), options.maxConnectionMs);
  }

  /** One frame from the client. */
  receive(data: string | ArrayBuffer): void {
    if (!this.#open) return;
    const event = readClientEvent(data, this.#options.maxFrameBytes);
    switch (event.kind) {
      case "close":
        return this.close(event.code, event.reason);
      case "refused":
        // After the lane's earlier requests, as every refusal: never among their events.
        return this.#refuseAfterLane(event.lane, () => event.error);
      case "steer": {
        const target = typeof event.previousResponseId === "string" ? event.previousResponseId : "";
        return this.#send(steerFailed(event.previousResponseId, event.input, this.#cache.laneOf(target) ?? ""));
      }
      case "create":
        return this.#enqueue(event, event.bytes);
    }
  }

  /** The client went away (or the socket failed): its turns are aborted as an SSE client's would be. */
  disconnected(): void {
    if (!this.#open) return;
    this.#open = false;
    clearTimeout(this.#deadline);
    this.#lanes.dropWaiting();
    for (const turn of this.#turns) turn.abort();
    this.#cache.clear();
  }

  /** Closes the connection from our side. */
  close(code: number, reason: string): void {
    if (!this.#open) return;
    this.disconnected();
    try {
      this.#transport.close(code, reason);
    } catch {
      // Already closed by the other side.
    }
  }

  #enqueue(create: CreateEvent, bytes: number): void {
    const { lane } = create;
    // A refusal follows the lane's earlier requests (running ones finish): never among their events.
    if (this.#keyRevoked) return this.#refuseAfterLane(lane, keyRefusal);
    if (this.#expired) return this.#refuseAfterLane(lane, () => connectionLimit(this.#limitText()));
    if (lane !== "" && !this.#laneInUse(lane) && this.#namedLanesInUse() >= MAX_NAMED_LANES)
      return this.#refuse(streamLimit(), lane);
    const accepted = this.#lanes.enqueue({
      lane,
      bytes,
      run: () => runCreate(this.#createContext, create),
      drop: (reason) => this.#refuse(reason ?? connectionLimit(this.#limitText()), lane),
    });
    if (!accepted) this.#refuseAfterLane(lane, queueFull);
  }

  readonly #createContext: CreateContext = {
    cache: this.#cache,
    send: (json) => this.#send(json),
    isOpen: () => this.#open,
    startTurn: (request) => {
      const { gateway, origin, credentials } = this.#options;
      const turn = runTurn(gateway, origin, credentials, request);
      // A turn started as the client left is aborted before it reads anything.
      if (this.#open) this.#turns.add(turn);
      else turn.abort();
      return turn;
    },
    endTurn: (turn) => void this.#turns.delete(turn),
    statusOf: (id) => responseStatus(this.#options.gateway, this.#options.origin, this.#options.credentials, id),
    keyRefused: () => this.#keyRefused(),
    maxRequestBytes: () => this.#options.maxFrameBytes,
  };

  /**
   * The key was refused: every waiting request gets the refusal at once and nothing new starts, while a
   * request already running goes on to its end (it started with the key accepted, as an HTTP stream
   * begun before a revocation does); then the socket closes.
   */
  #keyRefused(): void {
    this.#keyRevoked = true;
    this.#lanes.dropWaiting(keyRefusal());
    if (this.#lanes.idle) this.#idle();
  }

  #laneInUse(lane: string): boolean {
    return this.#cache.holdsContext(lane) || this.#lanes.activeLanes.has(lane);
  }

  #namedLanesInUse(): number {
    const lanes = new Set([...this.#cache.lanesHoldingContext(), ...this.#lanes.activeLanes]);
    lanes.delete("");
    return lanes.size;
  }

  #refuse(error: ApiError, lane: string): void {
    this.#send(apiErrorEvent(error, lane));
  }

  /**
   * Refuses a request once the requests before it on its lane have ended (never among their events);
   * past MAX_PENDING_REFUSALS waiting, the client is flooding a busy lane and the connection closes.
   */
  #refuseAfterLane(lane: string, error: () => ApiError): void {
    if (this.#pendingRefusals >= MAX_PENDING_REFUSALS)
      return this.close(CLOSE.policyViolation, "Too many refused requests are waiting for their lanes.");
    this.#pendingRefusals++;
    this.#lanes.afterLane(lane, () => {
      this.#pendingRefusals--;
      this.#refuse(error(), lane);
    });
  }

  #send(text: string): void {
    if (!this.#open) return;
    try {
      this.#transport.send(text);
    } catch {
      this.disconnected();
    }
  }

  /** The limit as OpenAI words it ("60 minutes"); in seconds below 90 s, where minutes would read "1 minutes". */
  #limitText(): string {
    const seconds = Math.max(1, Math.round(this.#options.maxConnectionMs / 1000));
    if (seconds < 90) return seconds === 1 ? "1 second" : `${seconds} seconds`;
    return `${Math.round(seconds / 60)} minutes`;
  }

  #expire(): void {
    this.#expired = true;
    this.#lanes.dropWaiting();
    if (this.#lanes.idle) this.#idle();
  }

  #idle(): void {
    if (this.#keyRevoked) this.close(CLOSE.policyViolation, "The API key was refused.");
    else if (this.#expired) this.close(CLOSE.goingAway, "Connection limit reached; reconnect to continue.");
  }
}
