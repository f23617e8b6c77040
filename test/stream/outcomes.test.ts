// The error a refused create is kept with (a background response's `response.failed`, a stored
// refusal): its code agrees with its type, as OpenAI's failed responses' do.

import { describe, expect, it } from "vitest";
import { refusalOf } from "../../src/stream/outcomes";
import { upstreamHttpError } from "../../src/upstream/errors";

const refused = (status: number, error: Record<string, unknown>) =>
  refusalOf(upstreamHttpError(status, JSON.stringify({ error })));

describe("a refusal's kept error", () => {
  it("keeps the upstream's code when it sent one", () => {
    expect(
      refused(400, { message: "no", type: "invalid_request_error", param: "tools", code: "invalid_value" }),
    ).toEqual({ code: "invalid_value", message: "no", type: "invalid_request_error", param: "tools" });
  });

  it("without a code: one that agrees with the type, never server_error beside invalid_request_error", () => {
    expect(refused(400, { message: "bad field", type: "invalid_request_error", param: null, code: null })).toEqual({
      code: "invalid_prompt",
      message: "bad field",
      type: "invalid_request_error",
      param: null,
    });
    expect(refused(422, { message: "unprocessable" })).toMatchObject({
      code: "invalid_prompt",
      type: "invalid_request_error",
    });
    expect(refused(429, { message: "slow down" })).toMatchObject({
      code: "rate_limit_exceeded",
      type: "rate_limit_error",
    });
    expect(refused(500, { message: "boom" })).toMatchObject({ code: "server_error", type: "server_error" });
  });

  it("the gateway's own failure (not an ApiError) is worded as the gateway's, never as an unreachable upstream", () => {
    expect(refusalOf(new Error("D1_ERROR: Network connection lost."))).toEqual({
      code: "server_error",
      message: "The gateway failed while running the response.",
      type: "server_error",
      param: null,
    });
  });
});
