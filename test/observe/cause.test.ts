// What a log line says of a failure: D1's reason for a failed query, never the query's SQL and
// parameters (which carry a request's content), and URLs cut to their host.

import { DrizzleQueryError } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { storageFailureOf, wrappedApiError } from "../../src/db/failures";
import { ApiError } from "../../src/errors";
import { causeOf } from "../../src/observe/log";

const d1Error = () => new Error("D1_ERROR: Network connection lost.");

describe("causeOf", () => {
  it("gives a failed query's reason without its SQL or parameters", () => {
    const wrapped = new DrizzleQueryError(
      'select "input" from "responses" where "id" = ?',
      ["secret input"],
      d1Error(),
    );
    const cause = causeOf(wrapped);
    expect(cause).toBe("query failed: Error: D1_ERROR: Network connection lost.");
    expect(cause).not.toMatch(/select|secret/);
  });

  it("cuts a URL to its host", () => {
    expect(causeOf(new Error("fetch https://user:pw@example.com/v1/x?key=1 failed"))).toBe(
      "Error: fetch example.com failed",
    );
  });
});

describe("storageFailureOf", () => {
  it("finds D1's error down the cause chain, and nothing in other errors", () => {
    const reason = d1Error();
    expect(storageFailureOf(new DrizzleQueryError("select 1", [], reason))).toBe(reason);
    expect(storageFailureOf(reason)).toBe(reason);
    expect(storageFailureOf(new Error("upstream answered 500"))).toBeUndefined();
    expect(storageFailureOf("D1_ERROR as a string")).toBeUndefined();
  });
});

describe("wrappedApiError", () => {
  it("finds the gateway's own answer thrown inside a query (a first write waiting for a tenant move), and nothing else", () => {
    const moving = new ApiError(503, "The gateway is moving this account's storage; try again.", {
      type: "server_error",
      code: "storage_unavailable",
      headers: { "retry-after": "2" },
    });
    expect(wrappedApiError(new DrizzleQueryError("insert into idempotency_keys ...", ["k"], moving))).toBe(moving);
    expect(wrappedApiError(new DrizzleQueryError("select 1", [], d1Error()))).toBeUndefined();
    expect(wrappedApiError(new Error("upstream answered 500"))).toBeUndefined();
  });
});
