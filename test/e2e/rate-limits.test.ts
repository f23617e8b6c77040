// Rate limiting as a client sees it: what a failing limiter does to requests, in both auth modes.

import { afterAll, afterEach, describe, expect, it } from "vitest";
import { model } from "../support/gateway";
import { managedClient, newTenantKey } from "../support/managed";
import { watchUnhandled } from "../support/uncaught";

const watch = watchUnhandled();
afterEach(() => watch.expectNone());
afterAll(() => watch.stop());

/** A limiter binding that errs on every call, as the real one may in an outage. */
const BROKEN_LIMITER = {
  limit: () => Promise.reject(new Error("rate limiter unavailable")),
};

describe("a failing rate limiter", () => {
  it.each([
    ["keys mode", "keys"],
    ["pass-through mode", "passthrough"],
  ])("lets /v1 requests through with a log line (%s)", async (_name, mode) => {
    const key = mode === "keys" ? (await newTenantKey("limiter down")).key : `sk-test-limiter-${crypto.randomUUID()}`;
    const openai = managedClient(key, { AUTH_MODE: mode, RATE_LIMITER: BROKEN_LIMITER });
    const created = await openai.responses.create({ model: model("text:2"), input: "x" });
    expect(created.status).toBe("completed");
    expect((await openai.responses.retrieve(created.id)).id).toBe(created.id);
    const logged = watch.logged();
    expect(logged.length).toBeGreaterThan(0);
    for (const line of logged) expect(line).toMatch(/^the rate limiter failed \(rate limiter unavailable\); letting/);
    watch.expectNone([/^the rate limiter failed/]);
  });
});
