import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { ATTEMPT_TIMEOUT_MS } from "../../src/webhooks/backoff";
import { retryAfterMs, sendWebhook, WEBHOOK_USER_AGENT } from "../../src/webhooks/deliver";
import { newWebhookSecret } from "../../src/webhooks/sign";
import { hookUrl, received, releaseHook } from "../support/hooks";

const sdk = new OpenAI({ apiKey: "unused", baseURL: "http://unused.test/v1" });
const payload = '{"object":"event","id":"evt_1","type":"response.completed","created_at":1,"data":{"id":"resp_1"}}';

describe("one webhook attempt", () => {
  it("POSTs the exact body with Standard Webhooks headers; a 2xx is delivered", async () => {
    const url = hookUrl("ok");
    const secret = newWebhookSecret();
    const outcome = await sendWebhook({ id: "wh_1", url, payload }, secret, { allowLoopback: true });
    expect(outcome).toMatchObject({ delivered: true, statusCode: 200, error: null, permanent: false });
    const [hook] = await received(url);
    expect(hook?.body).toBe(payload);
    expect(hook?.headers).toMatchObject({
      "content-type": "application/json",
      "user-agent": WEBHOOK_USER_AGENT,
      "webhook-id": "wh_1",
    });
    expect(await sdk.webhooks.unwrap(hook?.body ?? "", hook?.headers ?? {}, secret)).toEqual(JSON.parse(payload));
  });

  it.each([
    ["status:500", 500, "HTTP 500"],
    ["status:404", 404, "HTTP 404"],
    ["redirect", 302, "HTTP 302 (redirects are not followed)"],
    ["status:408", 408, "HTTP 408"],
    ["status:413", 413, "HTTP 413"],
  ])("counts %s as a failure to retry", async (scenario, statusCode, error) => {
    const url = hookUrl(scenario);
    const outcome = await sendWebhook({ id: "wh_2", url, payload }, newWebhookSecret(), { allowLoopback: true });
    expect(outcome).toEqual(expect.objectContaining({ delivered: false, permanent: false, statusCode, error }));
    expect(await received(`${url}-moved`)).toEqual([]);
  });

  it("waits 15 s for an answer by default, the low end of Standard Webhooks' 15-30 s", () => {
    expect(ATTEMPT_TIMEOUT_MS).toBe(15_000);
  });

  it("gives up on a receiver that does not answer in time (a failure to retry)", async () => {
    const url = hookUrl("hold-fail:1");
    const outcome = await sendWebhook({ id: "wh_3", url, payload }, newWebhookSecret(), {
      allowLoopback: true,
      timeoutMs: 200,
    });
    expect(outcome).toMatchObject({ delivered: false, permanent: false, statusCode: null });
    expect(outcome.error).toBe("No answer within 0.2 seconds.");
    expect(outcome.durationMs).toBeGreaterThanOrEqual(150);
    await releaseHook(url);
  });

  it("refuses a target that is no longer allowed, for good, without sending anything", async () => {
    const url = hookUrl("ok");
    const outcome = await sendWebhook({ id: "wh_4", url, payload }, newWebhookSecret(), { allowLoopback: false });
    expect(outcome).toMatchObject({ delivered: false, permanent: true, statusCode: null });
    expect(outcome.error).toContain("loopback");
    expect(await received(url)).toEqual([]);
  });

  it("reads Retry-After as delay-seconds or an HTTP date, and nothing else", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs("30", now)).toBe(30_000);
    expect(retryAfterMs(" 0 ", now)).toBe(0);
    expect(retryAfterMs("Thu, 01 Jan 2026 00:01:00 GMT", now)).toBe(60_000);
    expect(retryAfterMs("Wed, 31 Dec 2025 23:59:00 GMT", now)).toBe(0);
    expect(retryAfterMs("9".repeat(400), now)).toBe(365 * 86_400_000);
    for (const unreadable of [null, "", "-5", "1.5", "soon", "2026-01-02"])
      expect(retryAfterMs(unreadable, now)).toBeNull();
  });

  it("passes a failed answer's Retry-After on, and says so in the attempt's error", async () => {
    const url = hookUrl("retry-after:30");
    const outcome = await sendWebhook({ id: "wh_5", url, payload }, newWebhookSecret(), { allowLoopback: true });
    expect(outcome).toMatchObject({ delivered: false, statusCode: 429, retryAfterMs: 30_000 });
    expect(outcome.error).toBe("HTTP 429 (Retry-After: 30 s)");
  });

  it("counts a 410 Gone as a failure not to retry: the receiver wants no more", async () => {
    const url = hookUrl("status:410");
    const outcome = await sendWebhook({ id: "wh_6", url, payload }, newWebhookSecret(), { allowLoopback: true });
    expect(outcome).toMatchObject({
      delivered: false,
      permanent: true,
      statusCode: 410,
      error: "HTTP 410 (Gone: not retried)",
    });
  });
});
