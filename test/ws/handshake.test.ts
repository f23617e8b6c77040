// The handshake on `GET /v1/responses`: an upgrade is answered 101 (never the list), authenticated
// and rate limited like a POST (a refused key gets plain HTTP with OpenAI's envelope), and
// `WEBSOCKETS=off` answers 426 so Codex falls back to HTTP at once.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { missingKey } from "../../src/http/auth";
import { gatewayFetch, GATEWAY_URL } from "../support/gateway";
import { ADMIN_TOKEN, newTenantKey, UPSTREAM_KEY } from "../support/managed";
import { GatewayWebSocket } from "./support/gateway-socket";
import { RawSocket, SOCKET_URL } from "./support/frames";

const KEYS_MODE = { AUTH_MODE: "keys", ADMIN_TOKEN, UPSTREAM_API_KEY: UPSTREAM_KEY };

/** The HTTP answer to an upgrade. */
async function handshake(headers: Record<string, string>, overrides?: Record<string, unknown>): Promise<Response> {
  return new GatewayWebSocket(SOCKET_URL, { headers, overrides }).handshake;
}

describe("the WebSocket handshake", () => {
  it("upgrades GET /v1/responses to a socket, while a plain GET still lists", async () => {
    const answer = await handshake({ authorization: "Bearer sk-test-ws-handshake" });
    expect(answer.status).toBe(101);
    expect(answer.webSocket).not.toBeNull();
    expect(answer.headers.get("x-request-id")).toMatch(/^req_/);
    answer.webSocket?.accept();
    answer.webSocket?.close(1000, "done");
    const list = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      headers: { authorization: "Bearer sk-test-ws-handshake" },
    });
    expect(list.status).toBe(200);
    expect(await list.json()).toMatchObject({ object: "list", data: [] });
  });

  it("refuses a missing key with a plain 401 and OpenAI's envelope", async () => {
    const answer = await handshake({});
    expect(answer.status).toBe(401);
    expect(answer.webSocket).toBeNull();
    expect(answer.headers.get("content-type")).toBe("application/json");
    expect(await answer.json()).toEqual({
      error: { message: missingKey("passthrough").message, type: "invalid_request_error", param: null, code: null },
    });
  });

  it("refuses a wrong gateway key in keys mode with 401 invalid_api_key, the key masked", async () => {
    const answer = await handshake({ authorization: "Bearer sk-gw-notAKeyAtAll0123456789" }, KEYS_MODE);
    expect(answer.status).toBe(401);
    const body = await answer.json<{ error: Record<string, unknown> }>();
    expect(body.error).toMatchObject({ type: "invalid_request_error", code: "invalid_api_key" });
    expect(JSON.stringify(body)).not.toContain("notAKeyAtAll0123456789");
  });

  it("accepts a valid gateway key in keys mode", async () => {
    const { key } = await newTenantKey("ws handshake");
    const raw = await RawSocket.open({ overrides: KEYS_MODE }, key);
    raw.close();
    expect((await raw.closed).code).toBe(1000);
  });

  it("counts the handshake against the key's rate limit, answering 429 with retry-after", async () => {
    const strict = { RATE_LIMITER: (env as unknown as Record<string, unknown>).STRICT_RATE_LIMITER };
    const key = `sk-test-ws-limited-${crypto.randomUUID()}`;
    const statuses: number[] = [];
    let refused: Response | undefined;
    // The strict limiter allows 3 a minute; a minute boundary can reset the count once.
    for (let i = 0; i < 7 && refused === undefined; i++) {
      const answer = await handshake({ authorization: `Bearer ${key}` }, strict);
      statuses.push(answer.status);
      if (answer.status === 429) refused = answer;
      else answer.webSocket?.accept();
      answer.webSocket?.close(1000, "done");
    }
    expect(statuses.filter((status) => status === 101).length).toBeGreaterThanOrEqual(3);
    expect(refused?.headers.get("retry-after")).toMatch(/^\d+$/);
    expect((await refused?.json<{ error: Record<string, unknown> }>())?.error).toMatchObject({
      type: "requests",
      code: "rate_limit_exceeded",
    });
  });

  it("answers 426 when WEBSOCKETS=off, so Codex uses HTTP at once", async () => {
    const answer = await handshake({ authorization: "Bearer sk-test-ws-off" }, { WEBSOCKETS: "off" });
    expect(answer.status).toBe(426);
    expect(await answer.json()).toEqual({
      error: {
        message: "WebSocket mode is turned off on this gateway. Use HTTP: POST /v1/responses with stream: true.",
        type: "invalid_request_error",
        param: null,
        code: "websockets_disabled",
      },
    });
  });

  it("refuses every upgrade with a 500 when WEBSOCKETS holds neither on nor off", async () => {
    const answer = await handshake({ authorization: "Bearer sk-test-ws-bad" }, { WEBSOCKETS: "maybe" });
    expect(answer.status).toBe(500);
    expect((await answer.json<{ error: Record<string, unknown> }>()).error.type).toBe("server_error");
  });
});
