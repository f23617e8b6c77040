// Complete Response objects: OpenAI's defaults on the gateway's own snapshot, tools echoed as
// OpenAI echoes them, and what an upstream's snapshot lacks filled in, `completed_at` included.

import { describe, expect, it } from "vitest";
import { validateCreateRequest } from "../../src/responses/create-request";
import { StreamNormalizer } from "../../src/responses/normalizer";
import { completeSnapshot, echoOf, newResponseObject } from "../../src/responses/response-object";
import { echoTools, strictCompatible } from "../../src/responses/tool-echo";
import type { JsonObject, StreamEvent } from "../../src/responses/types";
import { fixtureEvents } from "../support/fixtures";

const identity = { id: "resp_gateway", createdAt: 1_800_000_000 };
const initial = (body: JsonObject = {}) =>
  newResponseObject(validateCreateRequest({ model: "m", input: "x", ...body }), identity, "in_progress");

describe("newResponseObject", () => {
  it("carries OpenAI's defaults for what the request left out", () => {
    expect(initial()).toMatchObject({
      frequency_penalty: 0,
      presence_penalty: 0,
      temperature: 1,
      top_p: 1,
      top_logprobs: 0,
      parallel_tool_calls: true,
      service_tier: "auto",
      truncation: "disabled",
      reasoning: { context: null, effort: null, summary: null },
      text: { format: { type: "text" }, verbosity: "medium" },
      tool_choice: "auto",
      tools: [],
      access_programs: null,
      moderation: null,
      completed_at: null,
      usage: null,
      user: null,
    });
    expect(initial({ presence_penalty: 0.5, reasoning: { effort: "low" } })).toMatchObject({
      presence_penalty: 0.5,
      reasoning: { context: null, effort: "low", summary: null },
    });
  });

  it("gives a null text.format the default format (the spec's Response requires an object)", () => {
    expect(initial({ text: { format: null } }).text).toEqual({ format: { type: "text" }, verbosity: "medium" });
    expect(initial({ text: { format: null, verbosity: "low" } }).text).toEqual({
      format: { type: "text" },
      verbosity: "low",
    });
  });
});

describe("echoTools", () => {
  it("fills function tools as OpenAI echoes them, strict resolved from the schema when omitted", () => {
    const closed = {
      type: "object",
      properties: { a: { type: "string" } },
      required: ["a"],
      additionalProperties: false,
    };
    const open = { type: "object", properties: { a: { type: "string" } } };
    expect(
      echoTools([
        { type: "function", name: "a", parameters: closed },
        { type: "function", name: "b", parameters: open },
        { type: "function", name: "c" },
        { type: "function", name: "d", parameters: open, strict: true, defer_loading: true },
      ]),
    ).toEqual([
      { type: "function", description: null, name: "a", parameters: closed, strict: true },
      { type: "function", description: null, name: "b", parameters: open, strict: false },
      { type: "function", description: null, name: "c", parameters: null, strict: true },
      { type: "function", description: null, name: "d", parameters: open, strict: true, defer_loading: true },
    ]);
  });

  it("gives custom tools their text format and fills namespace members and tool search", () => {
    expect(
      echoTools([
        { type: "custom", name: "c" },
        { type: "namespace", name: "n", description: "d", tools: [{ type: "function", name: "f" }] },
        { type: "tool_search" },
      ]),
    ).toEqual([
      { type: "custom", name: "c", format: { type: "text" } },
      {
        type: "namespace",
        name: "n",
        description: "d",
        tools: [{ type: "function", description: null, name: "f", parameters: null, strict: true }],
      },
      { type: "tool_search", execution: "server", description: null, parameters: null },
    ]);
  });

  it("calls a schema strict-compatible only if every object closes and requires all its properties", () => {
    expect(
      strictCompatible({
        type: "object",
        properties: {
          a: { type: "object", properties: { b: { type: "string" } }, required: ["b"], additionalProperties: false },
        },
        required: ["a"],
        additionalProperties: false,
      }),
    ).toBe(true);
    expect(
      strictCompatible({
        type: "object",
        properties: { a: { type: "object", properties: { b: { type: "string" } } } },
        required: ["a"],
        additionalProperties: false,
      }),
    ).toBe(false);
  });
});

describe("completeSnapshot", () => {
  it("sets completed_at on a completed response from the gateway's clock, and clears it on any other status", () => {
    const completed: JsonObject = { status: "completed", completed_at: null };
    completeSnapshot(completed, initial(), 1_800_000_123);
    expect(completed.completed_at).toBe(1_800_000_123);
    // An upstream's own completed_at is its clock, and could come before the gateway's created_at.
    const upstreams: JsonObject = { status: "completed", created_at: 1_800_000_100, completed_at: 1_700_000_001 };
    completeSnapshot(upstreams, initial(), 1_800_000_123);
    expect(upstreams.completed_at).toBe(1_800_000_123);
    for (const status of ["incomplete", "failed", "in_progress"]) {
      const other: JsonObject = { status, completed_at: 1_800_000_001 };
      completeSnapshot(other, initial(), 1_800_000_123);
      expect(other.completed_at).toBeNull();
    }
  });

  it("fills every field the snapshot lacks from initial, each object a copy of its own", () => {
    const base = initial({ metadata: { k: "v" }, reasoning: { effort: "low" } });
    const snapshot: JsonObject = { status: "in_progress" };
    completeSnapshot(snapshot, base, 1);
    expect(snapshot).toEqual({ ...base, status: "in_progress", completed_at: null });
    // The fold owns the snapshot and changes it in place: initial (the next snapshot's base) must not change with it.
    for (const field of ["metadata", "reasoning", "text"]) {
      expect(snapshot[field]).toEqual(base[field]);
      expect(snapshot[field]).not.toBe(base[field]);
    }
  });

  it("fills the usage details and tools an upstream left out", () => {
    const snapshot: JsonObject = {
      status: "completed",
      usage: { input_tokens: 5, output_tokens: 2 },
      tools: [{ type: "function", name: "f" }],
    };
    completeSnapshot(snapshot, initial(), 1);
    expect(snapshot.usage).toEqual({
      input_tokens: 5,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: 2,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 7,
    });
    expect(snapshot.tools).toEqual([
      { type: "function", description: null, name: "f", parameters: null, strict: true },
    ]);
    expect(snapshot.presence_penalty).toBe(0);
  });

  it("gives a recorded upstream's terminal event a completed_at when it sent none", () => {
    const request = validateCreateRequest({ model: "m", input: "x" });
    const normalizer = new StreamNormalizer({ echo: echoOf(request, identity), initial: initial(), background: false });
    const events = fixtureEvents("responses/azure-text.1.chunks.txt") as StreamEvent[];
    delete (events.at(-1)?.response as JsonObject).completed_at;
    const out = events.flatMap((event) => normalizer.accept(event));
    const terminal = JSON.parse(out.at(-1)?.json ?? "{}") as { response: JsonObject };
    expect(terminal.response.status).toBe("completed");
    expect(typeof terminal.response.completed_at).toBe("number");
  });
});
