import OpenAI from "openai";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { newWebhookSecret, secretKey, signedHeaders } from "../../src/webhooks/sign";

const sdk = new OpenAI({ apiKey: "unused", baseURL: "http://unused.test/v1" });

describe("webhook signing", () => {
  it("produces headers the openai SDK's webhooks.unwrap() verifies, for any body", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.stringMatching(/^[0-9a-f]{1,48}$/), async (text, id) => {
        const secret = newWebhookSecret();
        const body = JSON.stringify({ object: "event", text });
        const headers = await signedHeaders(secret, `wh_${id}`, body);
        expect(await sdk.webhooks.unwrap(body, headers, secret)).toEqual(JSON.parse(body));
      }),
      { numRuns: 50 },
    );
  });

  it("fails verification with another secret, another body or an old timestamp", async () => {
    const secret = newWebhookSecret();
    const body = '{"object":"event"}';
    const headers = await signedHeaders(secret, "wh_1", body);
    await expect(sdk.webhooks.unwrap(body, headers, newWebhookSecret())).rejects.toThrow(/signature/);
    await expect(sdk.webhooks.unwrap(`${body} `, headers, secret)).rejects.toThrow(/signature/);
    const old = await signedHeaders(secret, "wh_1", body, Math.floor(Date.now() / 1000) - 3600);
    await expect(sdk.webhooks.unwrap(body, old, secret)).rejects.toThrow(/too old/);
  });

  it("mints whsec_ secrets of 32 random bytes and accepts only well-formed ones of 24-64 bytes", () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(secretKey(secret)).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(secret);
    expect(secretKey(`whsec_${btoa("x".repeat(23))}`)).toBeNull();
    expect(secretKey(`whsec_${btoa("x".repeat(65))}`)).toBeNull();
    expect(secretKey(`whsec_${btoa("x".repeat(24))}`)).toHaveLength(24);
    expect(secretKey("whsec_***not base64***")).toBeNull();
    expect(secretKey(btoa("x".repeat(32)))).toBeNull();
  });
});
