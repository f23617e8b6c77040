// The response line of an end that could not be recorded says who refused its write: D1 (its
// d1_failure line says why), or the gateway itself, for a tenant move outlasting its wait, which the
// recorder neither retries nor logs as D1's (there is no d1_failure line to look for then).
// A refused response's line says whether the upstream or the gateway failed it.

import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../src/errors";
import { failedByOf } from "../../src/observe/failed-by";
import { RunTrace } from "../../src/observe/response-end";
import type { ResponseObject } from "../../src/responses/types";
import type { RunSpec } from "../../src/run/spec";

const spec = {
  requestId: "req_1",
  responseId: "resp_1",
  tenantId: "t_1",
  apiKeyId: null,
  request: { model: "m", background: false, stream: false, store: true },
  upstream: { baseUrl: "https://upstream.example/v1", protocol: "responses" },
} as unknown as RunSpec;

const completed = { id: "resp_1", status: "completed", output: [], usage: null } as unknown as ResponseObject;

/** The response_end line `end` writes (a warning, as an end not recorded is). */
function lineOf(end: (trace: RunTrace) => void): { msg: string; recorded: string } {
  const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
  end(new RunTrace(spec, {}));
  const line = warn.mock.calls.map(([fields]) => fields as { event: string; msg: string; recorded: string });
  return line.find((fields) => fields.event === "response_end") as { msg: string; recorded: string };
}

afterEach(() => vi.restoreAllMocks());

describe("a response line whose end was not recorded", () => {
  it("names D1 when D1 refused the write", () => {
    const refusal = new Error("Failed query: update", { cause: new Error("D1_ERROR: Network connection lost.") });
    expect(
      lineOf((trace) => trace.end(completed, { nextSeq: 5, failedBy: null }, "storage_failed", refusal)),
    ).toMatchObject({
      msg: "response completed but not recorded: D1 refused its end (see its d1_failure line)",
      recorded: "storage_failed",
    });
  });

  it("names the gateway, in its words, when a tenant move refused the write from inside it", () => {
    const move = new ApiError(503, "The gateway is moving this account's storage; try again.", {
      type: "server_error",
      code: "storage_unavailable",
    });
    const refusal = new Error("Failed query: update", { cause: move });
    expect(
      lineOf((trace) => trace.end(completed, { nextSeq: 5, failedBy: null }, "storage_failed", refusal)),
    ).toMatchObject({
      msg: "response completed but not recorded: the gateway refused its end's write: The gateway is moving this account's storage; try again.",
      recorded: "storage_failed",
    });
  });
});

describe("what failed a refused response", () => {
  it("the upstream for its own HTTP error and the gateway's errors about it; the gateway for the rest", () => {
    const gatewayMade = (code: string | null) => new ApiError(502, "x", { type: "server_error", code });
    expect(failedByOf(new ApiError(500, "x", { fromUpstream: true }))).toBe("upstream_error");
    expect(failedByOf(new ApiError(400, "x", { code: "invalid_prompt", fromUpstream: true }))).toBe("upstream_error");
    for (const code of ["upstream_unreachable", "upstream_timeout", "upstream_key_refused"])
      expect(failedByOf(gatewayMade(code))).toBe("upstream_error");
    expect(failedByOf(new ApiError(400, "x", { code: "invalid_encrypted_content" }))).toBe("gateway");
    expect(failedByOf(new ApiError(503, "x", { code: "compaction_not_configured" }))).toBe("gateway");
    expect(failedByOf(new Error("D1_ERROR: Network connection lost."))).toBe("gateway");
  });
});
