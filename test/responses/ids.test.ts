// Time-ordered ids: same shape as before (prefix + 48 lowercase hex), sortable by creation time,
// older all-random ids still recognised; and the list endpoint keeps creation order within a second.

import type { Response as OpenAIResponse } from "openai/resources/responses/responses";
import { CursorPage } from "openai/core/pagination";
import { describe, expect, it } from "vitest";
import { isGatewayResponseId, newId, newResponseId } from "../../src/responses/ids";
import { client, model } from "../support/gateway";

describe("newId", () => {
  it("keeps the shape: the prefix, then 48 lowercase hex digits", () => {
    for (const prefix of ["resp", "msg", "fc", "evt"])
      expect(newId(prefix)).toMatch(new RegExp(`^${prefix}_[0-9a-f]{48}$`));
    expect(isGatewayResponseId(newResponseId())).toBe(true);
  });

  it("sorts by creation time, to the millisecond, whatever the random part", () => {
    const times = [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_999, 1_700_000_001_000, 4_102_444_800_000];
    const ids = times.map((ms) => newId("resp", ms));
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]?.slice(5, 17)).toBe((1_700_000_000_000).toString(16).padStart(12, "0"));
  });

  it("keeps 144 random bits: two ids of the same millisecond differ", () => {
    const a = newId("resp", 1_700_000_000_000);
    const b = newId("resp", 1_700_000_000_000);
    expect(a.slice(0, 17)).toBe(b.slice(0, 17));
    expect(a).not.toBe(b);
  });

  it("still recognises ids minted before ids were time-ordered", () => {
    expect(isGatewayResponseId("resp_0850765c843cca5300699cc47d93c0819089a181f5feeff8")).toBe(true);
    expect(isGatewayResponseId(`resp_${"f".repeat(48)}`)).toBe(true);
    expect(isGatewayResponseId(`resp_${"F".repeat(48)}`)).toBe(false);
  });
});

describe("GET /v1/responses ordering", () => {
  it("lists responses created within the same second in creation order, both ways", async () => {
    const openai = client(`sk-test-ids-${crypto.randomUUID()}`);
    const created: OpenAIResponse[] = [];
    for (let i = 0; i < 6; i++) created.push(await openai.responses.create({ model: model("text:1"), input: `n${i}` }));
    const seconds = created.map((response) => response.created_at);
    // Six creates take well under a few seconds: at least two share a second, so ids break the tie.
    expect(new Set(seconds).size).toBeLessThan(created.length);
    const list = async (order: "asc" | "desc") =>
      (
        await openai.getAPIList<OpenAIResponse, CursorPage<OpenAIResponse>>("/responses", CursorPage, {
          query: { order, limit: 100 },
        })
      ).data.map((response) => response.id);
    const ids = created.map((response) => response.id);
    expect(await list("asc")).toEqual(ids);
    expect(await list("desc")).toEqual([...ids].reverse());
  });
});
