import { env } from "cloudflare:workers";
import { APIError } from "openai";
import { describe, expect, it } from "vitest";
import { client, expectKeptAsFailed, gatewayFetch, GATEWAY_URL, model } from "../support/gateway";
import { readToFailure } from "../support/streams";
import { countAll } from "../support/shards";
import { managedFetch } from "../support/managed";

const post = (body: string, headers: Record<string, string> = {}) =>
  gatewayFetch(`${GATEWAY_URL}/responses`, {
    method: "POST",
    headers: { authorization: "Bearer sk-test-errors", "content-type": "application/json", ...headers },
    body,
  });

async function responseCount(): Promise<number> {
  return countAll("SELECT count(*) AS n FROM responses");
}

describe("errors", () => {
  it.each([
    ["malformed JSON", "{nope", null, null],
    [
      "a wrong type",
      JSON.stringify({ model: "m", input: "x", max_output_tokens: "8" }),
      "max_output_tokens",
      "invalid_type",
    ],
    ["a missing model", JSON.stringify({ input: "x" }), "model", "missing_required_parameter"],
    ["an empty model", JSON.stringify({ model: "", input: "x" }), "model", "empty_string"],
    [
      "a model name too long",
      JSON.stringify({ model: "m".repeat(257), input: "x" }),
      "model",
      "string_above_max_length",
    ],
    // OpenAI's limit (its SDK's doc): a longer one was accepted and sent on, to OpenAI or as a chat server's `user`.
    [
      "a safety_identifier over 128 characters",
      JSON.stringify({ model: "m", input: "x", safety_identifier: "u".repeat(129) }),
      "safety_identifier",
      "string_above_max_length",
    ],
    [
      "a temperature out of range",
      JSON.stringify({ model: "m", input: "x", temperature: -1 }),
      "temperature",
      "decimal_below_min_value",
    ],
    [
      "too much metadata",
      JSON.stringify({
        model: "m",
        metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])),
      }),
      "metadata",
      "object_above_max_properties",
    ],
    [
      "conversation with previous_response_id",
      JSON.stringify({ model: "m", conversation: "conv_1", previous_response_id: "resp_1" }),
      "previous_response_id",
      "mutually_exclusive_parameters",
    ],
    [
      "an assistant message with input_text",
      JSON.stringify({ model: "m", input: [{ role: "assistant", content: [{ type: "input_text", text: "x" }] }] }),
      "input[0].content[0].type",
      "invalid_value",
    ],
    // A required field of the wrong type is an invalid_type naming it, not a missing parameter, and
    // an object whose field is wrong is not told it should have been an object.
    [
      "a tool type that is not a string",
      JSON.stringify({ model: "m", tools: [{ type: 5 }] }),
      "tools[0].type",
      "invalid_type",
    ],
    [
      "a content part type that is not a string",
      JSON.stringify({ model: "m", input: [{ role: "user", content: [{ type: null, text: "x" }] }] }),
      "input[0].content[0].type",
      "invalid_type",
    ],
    [
      "a text part without its text",
      JSON.stringify({ model: "m", input: [{ role: "user", content: [{ type: "input_text" }] }] }),
      "input[0].content[0].text",
      "missing_required_parameter",
    ],
    [
      "a text part whose text is not a string",
      JSON.stringify({ model: "m", input: [{ role: "assistant", content: [{ type: "output_text", text: 5 }] }] }),
      "input[0].content[0].text",
      "invalid_type",
    ],
    [
      "a function_call_output call_id that is not a string",
      JSON.stringify({ model: "m", input: [{ type: "function_call_output", call_id: 7, output: "x" }] }),
      "input[0].call_id",
      "invalid_type",
    ],
    [
      "a conversation id that is not a string",
      JSON.stringify({ model: "m", conversation: { id: 5 } }),
      "conversation.id",
      "invalid_type",
    ],
    [
      "a tool_choice object without a type",
      JSON.stringify({ model: "m", tool_choice: { name: "f" } }),
      "tool_choice.type",
      "missing_required_parameter",
    ],
    // A structured-output format must say what to produce; a chat server was sent `json_schema: {}`.
    [
      "a json_schema format without a name",
      JSON.stringify({ model: "m", text: { format: { type: "json_schema", schema: { type: "object" } } } }),
      "text.format.name",
      "missing_required_parameter",
    ],
    [
      "a json_schema format without a schema",
      JSON.stringify({ model: "m", text: { format: { type: "json_schema", name: "answer" } } }),
      "text.format.schema",
      "missing_required_parameter",
    ],
    [
      "a text.format that is not an object",
      JSON.stringify({ model: "m", text: { format: "json" } }),
      "text.format",
      "invalid_type",
    ],
    // A typo in `include` was accepted and did nothing (over a chat upstream, nothing told the caller).
    [
      "an include value OpenAI does not know",
      JSON.stringify({ model: "m", input: "x", include: ["reasoning.encrypted_content", "reasoning.encrypted"] }),
      "include[1]",
      "invalid_value",
    ],
    [
      "a reasoning effort that is not a string",
      JSON.stringify({ model: "m", reasoning: { effort: 5 } }),
      "reasoning.effort",
      "invalid_type",
    ],
  ])("answers %s with a 400 in OpenAI's envelope and writes nothing", async (_name, body, param, code) => {
    const before = await responseCount();
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    const payload = await res.json<{ error: Record<string, unknown> }>();
    expect(payload.error).toMatchObject({ type: "invalid_request_error", param, code });
    expect(typeof payload.error.message).toBe("string");
    expect(await responseCount()).toBe(before);
  });

  it("takes a safety_identifier of 128 characters, OpenAI's limit", async () => {
    const id = "u".repeat(128);
    const response = await client("sk-test-errors").responses.create({
      model: model("text:1"),
      input: "x",
      safety_identifier: id,
    });
    expect(response.status).toBe("completed");
  });

  it("answers an oversized body with a 413 and writes nothing", async () => {
    const before = await responseCount();
    const res = await post(JSON.stringify({ model: "m", input: "x".repeat(17 * 1024 * 1024) }));
    expect(res.status).toBe(413);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("request_too_large");
    expect(await responseCount()).toBe(before);
  });

  it("passes an upstream 4xx through with its status and body, and keeps the refused response as failed", async () => {
    const openai = client("sk-test-errors");
    const m = model("status:400");
    const error = (await openai.responses
      .create({ model: m, input: "x", stream: true })
      .catch((e: unknown) => e)) as APIError;
    expect(error).toBeInstanceOf(APIError);
    expect(error.status).toBe(400);
    expect(error.error).toEqual({
      message: "mock upstream error 400",
      type: "invalid_request_error",
      param: null,
      code: "mock_400",
    });
    await expectKeptAsFailed(openai, m, { code: "mock_400", message: "mock upstream error 400" });
  });

  it("passes a 429 through with retry-after", async () => {
    const res = await post(JSON.stringify({ model: model("status:429:30"), input: "x" }));
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("30");
  });

  it("retries an upstream 503 before the first byte", async () => {
    const openai = client("sk-test-errors");
    const response = await openai.responses.create({ model: model("flaky:1"), input: "x" });
    expect(response.output_text).toBe("recovered");
  });

  it.each([
    ["cut-after:5", "The upstream connection failed before the response was complete."],
    ["end-after:5", "The upstream stream ended before the response was complete."],
    // The upstream's own error mid-item, then a cut or its response.failed: the SDK reads nothing
    // after `error`, so the item is finished before it too.
    ["error-after:5", "The model crashed."],
    ["error-after:5:failed", "The model crashed."],
  ])(
    "ends a stream broken by %s with error + response.failed, stored as failed with the partial output",
    async (scenario, message) => {
      const openai = client("sk-test-errors");
      const stream = await openai.responses.create({ model: model(scenario), input: "x", stream: true });
      const { types, id, failure } = await readToFailure(stream);
      expect(failure).toBeInstanceOf(APIError);
      // The answer the break left open is finished `incomplete` before the failure.
      expect(types.slice(-4)).toEqual([
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
      ]);
      // The replay follows the run to its end (the SDK stops reading at `error`, before the end).
      const replay = await gatewayFetch(`${GATEWAY_URL}/responses/${id}?stream=true`, {
        headers: { authorization: "Bearer sk-test-errors" },
      });
      const text = await replay.text();
      expect(text).toContain("event: error\n");
      expect(text.trimEnd().split("\n\n").at(-1)).toMatch(/^event: response\.failed\n/);
      const stored = await openai.responses.retrieve(id);
      expect(stored.status).toBe("failed");
      expect(stored.error).toEqual({ code: "server_error", message, type: "server_error", param: null });
      expect(stored.output[0]).toMatchObject({
        type: "message",
        status: "incomplete",
        content: [{ type: "output_text", text: "a" }],
      });
    },
  );

  it("fails a stream with invalid JSON in an event", async () => {
    const openai = client("sk-test-errors");
    const response = await openai.responses.create({ model: model("malformed"), input: "x" }).catch((e: unknown) => e);
    expect(response).toMatchObject({
      status: "failed",
      error: { message: "The upstream sent an event that is not valid JSON." },
    });
  });

  it("says a database without this version's tables needs its migrations, and stops the SDK's retries", async () => {
    // What D1 answers when `wrangler deploy` ran but `wrangler d1 migrations apply` did not.
    const fail = () => Promise.reject(new Error("D1_ERROR: no such table: tenant_shards: SQLITE_ERROR"));
    const statement = { bind: () => statement, all: fail, raw: fail, run: fail, first: fail };
    const unmigrated = { prepare: () => statement, batch: fail, exec: fail, withSession: () => unmigrated };
    const res = await managedFetch(
      `${GATEWAY_URL}/responses`,
      { headers: { authorization: "Bearer sk-test-errors-unmigrated" } },
      { DB: unmigrated },
    );
    expect(res.status).toBe(500);
    expect(res.headers.get("x-should-retry")).toBe("false");
    expect(res.headers.get("retry-after")).toBeNull();
    const body = await res.json<{ error: { code: string; message: string } }>();
    expect(body.error.code).toBe("database_not_migrated");
    expect(body.error.message).toContain("npx wrangler d1 migrations apply DB");
    expect(body.error.message).not.toContain("tenant_shards");
  });

  it("says so too when only a newer column is missing: a create answers database_not_migrated, not a retryable 503", async () => {
    // Databases migrated up to 0007 only: reads work, the response's end (output_item_ids, 0008) does not.
    const older = (db: D1Database) =>
      new Proxy(db, {
        get(target, property) {
          if (property === "prepare")
            return (sql: string) => target.prepare(sql.replaceAll("output_item_ids", "output_item_idz"));
          const value = Reflect.get(target, property) as unknown;
          return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    const bindings = env as unknown as Record<string, D1Database>;
    const shards = Object.fromEntries(
      ["DB", "DB_2", "DB_3"].filter((name) => bindings[name]).map((name) => [name, older(bindings[name]!)]),
    );
    const res = await managedFetch(
      `${GATEWAY_URL}/responses`,
      {
        method: "POST",
        headers: { authorization: "Bearer sk-test-errors-older-db", "content-type": "application/json" },
        body: JSON.stringify({ model: model("text"), input: "x" }),
      },
      { AUTH_MODE: "passthrough", ...shards },
    );
    const body = await res.json<{ error: { code: string } | null }>();
    expect({ status: res.status, code: body.error?.code, retry: res.headers.get("x-should-retry") }).toEqual({
      status: 500,
      code: "database_not_migrated",
      retry: "false",
    });
    expect(res.headers.get("retry-after")).toBeNull();
    // Streamed, the answer has begun: its stream ends with an error that says the same.
    const stream = await managedFetch(
      `${GATEWAY_URL}/responses`,
      {
        method: "POST",
        headers: { authorization: "Bearer sk-test-errors-older-db", "content-type": "application/json" },
        body: JSON.stringify({ model: model("text"), input: "x", stream: true }),
      },
      { AUTH_MODE: "passthrough", ...shards },
    );
    const last = (await stream.text()).trimEnd().split("\n\n").at(-1) ?? "";
    expect(last).toMatch(/^event: error\n/);
    expect(last).toContain('"code":"database_not_migrated"');
  });

  it("answers unknown routes with Invalid URL", async () => {
    const res = await gatewayFetch(`${GATEWAY_URL}/nothing/here`, { headers: { authorization: "Bearer x" } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { message: "Invalid URL (GET /v1/nothing/here)", type: "invalid_request_error", param: null, code: null },
    });
  });

  it("answers a malformed or unknown response id with a 404", async () => {
    const openai = client("sk-test-errors");
    for (const id of ["resp_nope", "../../etc/passwd", "resp_" + "a".repeat(300)])
      await expect(openai.responses.retrieve(id)).rejects.toMatchObject({ status: 404 });
  });
});
