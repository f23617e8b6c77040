// The routing table (`UPSTREAM_ROUTES`) and the upstream choice: glob matching, first match wins,
// key handling, prefix stripping, and the clear refusal of a broken table or a missing secret.

import { describe, expect, it } from "vitest";
import { readConfig } from "../../src/config";
import { ApiError } from "../../src/errors";
import { chatCompletionsOpenThinkProtocol, chatCompletionsProtocol } from "../../src/upstream/chat-completions";
import { chooseUpstream, targetOf } from "../../src/upstream/registry";
import { matchRoute, readRoutes } from "../../src/upstream/routes";

const route = (fields: Record<string, unknown> = {}) => ({
  model: "llama-*",
  base_url: "https://api.groq.com/openai/v1/",
  protocol: "chat_completions",
  ...fields,
});

/** `UPSTREAM_ROUTES` and the secrets its routes name, as config hands them to the registry. */
const routesSetting = (vars: Record<string, unknown>) => readConfig(vars as never).routes;

function routesOf(table: unknown, secrets: Record<string, string> = {}) {
  const read = readRoutes(
    routesSetting({ UPSTREAM_ROUTES: typeof table === "string" ? table : JSON.stringify(table), ...secrets }),
  );
  if (!read.ok) throw new Error(read.problem);
  return read.routes;
}

function problemOf(table: unknown): string {
  const read = readRoutes(
    routesSetting({ UPSTREAM_ROUTES: typeof table === "string" ? table : JSON.stringify(table) }),
  );
  if (read.ok) throw new Error("expected the table to be refused");
  return read.problem;
}

function thrown(run: () => unknown): ApiError {
  try {
    run();
  } catch (caught) {
    return caught as ApiError;
  }
  throw new Error("expected an error");
}

const configOf = (vars: Record<string, string>) =>
  readConfig({ UPSTREAM_BASE_URL: "https://api.openai.com/v1", UPSTREAM_PROTOCOL: "responses", ...vars } as never);

describe("UPSTREAM_ROUTES parsing", () => {
  it.each([undefined, "", "  ", "[]"])("reads %j as no routes", (value) => {
    expect(readRoutes(routesSetting(value === undefined ? {} : { UPSTREAM_ROUTES: value }))).toEqual({
      ok: true,
      routes: [],
    });
  });

  it("reads a route, without the base URL's trailing slash", () => {
    expect(routesOf([route()])).toEqual([
      expect.objectContaining({
        pattern: "llama-*",
        baseUrl: "https://api.groq.com/openai/v1",
        protocol: "chat_completions",
        apiKeySecret: null,
        stripPrefix: null,
        apiKey: null,
      }),
    ]);
  });

  it("reads request_fields: each field left out (null) or renamed", () => {
    const fields = { stream_options: null, max_completion_tokens: "max_tokens" };
    expect(routesOf([route({ request_fields: fields })])).toEqual([expect.objectContaining({ requestFields: fields })]);
  });

  it("reads template_opens_think (false unless set)", () => {
    expect(routesOf([route({ model: "r1-*", template_opens_think: true }), route()])).toEqual([
      expect.objectContaining({ templateOpensThink: true }),
      expect.objectContaining({ templateOpensThink: false }),
    ]);
  });

  it("reads reasoning_sent_as (reasoning_content unless set; null leaves it out)", () => {
    expect(
      routesOf([
        route({ model: "magistral-*", reasoning_sent_as: "thinking" }),
        route({ model: "plain-*", reasoning_sent_as: null }),
        route(),
      ]),
    ).toEqual([
      expect.objectContaining({ reasoningSentAs: "thinking" }),
      expect.objectContaining({ reasoningSentAs: null }),
      expect.objectContaining({ reasoningSentAs: "reasoning_content" }),
    ]);
  });

  it("reads alternate_roles (false unless set)", () => {
    expect(routesOf([route({ model: "gemma-*", alternate_roles: true }), route()])).toEqual([
      expect.objectContaining({ alternateRoles: true }),
      expect.objectContaining({ alternateRoles: false }),
    ]);
  });

  it("reads reasoning_placeholder (null unless set; an empty string is a value)", () => {
    expect(
      routesOf([
        route({ model: "deepseek-*", reasoning_placeholder: " " }),
        route({ model: "kimi-*", reasoning_placeholder: "" }),
        route(),
      ]),
    ).toEqual([
      expect.objectContaining({ reasoningPlaceholder: " " }),
      expect.objectContaining({ reasoningPlaceholder: "" }),
      expect.objectContaining({ reasoningPlaceholder: null }),
    ]);
  });

  it("reads compaction on a responses route (the server's own unless 'gateway')", () => {
    const responses = (fields: Record<string, unknown>) => route({ protocol: "responses", ...fields });
    expect(
      routesOf([
        responses({ model: "vllm-*", compaction: "gateway" }),
        responses({ model: "openai-*", compaction: "upstream" }),
        responses({}),
      ]),
    ).toEqual([
      expect.objectContaining({ gatewayCompaction: true }),
      expect.objectContaining({ gatewayCompaction: false }),
      expect.objectContaining({ gatewayCompaction: false }),
    ]);
    const table = JSON.stringify([responses({ compaction: "gateway" })]);
    const config = configOf({ UPSTREAM_ROUTES: table });
    expect(targetOf(chooseUpstream(config, "llama-3", null)).gatewayCompaction).toBe(true);
  });

  it("reads reasoning_input on a responses route (keep unless set)", () => {
    const responses = (fields: Record<string, unknown>) => route({ protocol: "responses", ...fields });
    expect(
      routesOf([
        responses({ model: "vllm-*", reasoning_input: "drop_encrypted" }),
        responses({ model: "llama-cpp-*", reasoning_input: "raw_text_only" }),
        responses({ model: "other-*", reasoning_input: "drop" }),
        responses({}),
      ]),
    ).toEqual([
      expect.objectContaining({ reasoningInput: "drop_encrypted" }),
      expect.objectContaining({ reasoningInput: "raw_text_only" }),
      expect.objectContaining({ reasoningInput: "drop" }),
      expect.objectContaining({ reasoningInput: "keep" }),
    ]);
    const table = JSON.stringify([responses({ model: "vllm/*", reasoning_input: "drop_encrypted" })]);
    const config = configOf({ UPSTREAM_ROUTES: table });
    expect(targetOf(chooseUpstream(config, "vllm/qwen3", null)).reasoningInput).toBe("drop_encrypted");
    expect(targetOf(chooseUpstream(config, "gpt-5", null)).reasoningInput).toBe("keep");
  });

  it("gives the default upstream UPSTREAM_COMPACTION and UPSTREAM_REASONING_INPUT, as a route's options; a route keeps its own", () => {
    const table = JSON.stringify([route({ protocol: "responses" })]);
    const config = configOf({
      UPSTREAM_COMPACTION: "gateway",
      UPSTREAM_REASONING_INPUT: "raw_text_only",
      UPSTREAM_ROUTES: table,
    });
    expect(targetOf(chooseUpstream(config, "gpt-5", null))).toMatchObject({
      gatewayCompaction: true,
      reasoningInput: "raw_text_only",
    });
    expect(targetOf(chooseUpstream(config, "llama-3", null))).toMatchObject({
      gatewayCompaction: false,
      reasoningInput: "keep",
    });
    expect(targetOf(chooseUpstream(configOf({}), "gpt-5", null))).toMatchObject({
      gatewayCompaction: false,
      reasoningInput: "keep",
    });
  });

  it("accepts the table as an array (a JSON value in [vars] arrives parsed)", () => {
    const read = readRoutes(routesSetting({ UPSTREAM_ROUTES: [route()] }));
    expect(read.ok && read.routes.map((r) => r.pattern)).toEqual(["llama-*"]);
  });

  it("reads each route's key from the secret it names, at each read", () => {
    const table = JSON.stringify([route({ api_key_secret: "GROQ_API_KEY" })]);
    expect(readRoutes(routesSetting({ UPSTREAM_ROUTES: table, GROQ_API_KEY: "gsk_one" }))).toMatchObject({
      routes: [{ apiKey: "gsk_one" }],
    });
    expect(readRoutes(routesSetting({ UPSTREAM_ROUTES: table, GROQ_API_KEY: "gsk_two" }))).toMatchObject({
      routes: [{ apiKey: "gsk_two" }],
    });
    expect(readRoutes(routesSetting({ UPSTREAM_ROUTES: table }))).toMatchObject({ routes: [{ apiKey: undefined }] });
  });

  it("answers each string on its own even when tables alternate", () => {
    const a = JSON.stringify([route({ model: "a-*" })]);
    const b = JSON.stringify([route({ model: "b-*" })]);
    expect(
      [a, b, a, "[", a].map((table) => {
        const read = readRoutes(routesSetting({ UPSTREAM_ROUTES: table }));
        return read.ok ? read.routes[0]?.pattern : "broken";
      }),
    ).toEqual(["a-*", "b-*", "a-*", "broken", "a-*"]);
  });

  it.each([
    ["not JSON", "[{", "UPSTREAM_ROUTES is not valid JSON."],
    ["not an array", { model: "x" }, "UPSTREAM_ROUTES must be a JSON array of routes."],
    ["an entry that is not an object", ["llama-*"], "UPSTREAM_ROUTES[0] must be an object."],
    ["a missing model", [route(), route({ model: undefined })], "UPSTREAM_ROUTES[1].model must be a non-empty string"],
    ["an empty model", [route({ model: "" })], "UPSTREAM_ROUTES[0].model must be a non-empty string"],
    ["a missing protocol", [route({ protocol: undefined })], "UPSTREAM_ROUTES[0].protocol must be"],
    ["an unknown protocol", [route({ protocol: "anthropic" })], "UPSTREAM_ROUTES[0].protocol must be"],
    ["a relative base_url", [route({ base_url: "/v1" })], "UPSTREAM_ROUTES[0].base_url must be an absolute"],
    ["a non-http base_url", [route({ base_url: "ftp://host/v1" })], "UPSTREAM_ROUTES[0].base_url must be an absolute"],
    [
      "a model pattern that an earlier route already has",
      [route({ model: "groq/*" }), route({ model: "local-*" }), route({ model: "groq/*", protocol: "responses" })],
      "UPSTREAM_ROUTES[2].model is the same as UPSTREAM_ROUTES[0].model: the first match wins, so UPSTREAM_ROUTES[2] would never be used.",
    ],
    [
      "a base_url ending with the chat endpoint",
      [route({ base_url: "https://api.groq.com/openai/v1/chat/completions" })],
      "UPSTREAM_ROUTES[0].base_url must not end with /chat/completions: the gateway appends the protocol's path (give the URL up to /v1).",
    ],
    [
      "a base_url ending with the responses endpoint",
      [route({ protocol: "responses", base_url: "http://vllm:8000/v1/responses/" })],
      "UPSTREAM_ROUTES[0].base_url must not end with /responses: the gateway appends the protocol's path (give the URL up to /v1).",
    ],
    ["a misspelt field", [route({ apiKeySecret: "K" })], "UPSTREAM_ROUTES[0] has an unknown field 'apiKeySecret'"],
    ["a bad secret name", [route({ api_key_secret: "GROQ KEY" })], "UPSTREAM_ROUTES[0].api_key_secret must be"],
    ["an empty strip_prefix", [route({ strip_prefix: "" })], "UPSTREAM_ROUTES[0].strip_prefix must be"],
    ["too many routes", Array(257).fill(route()), "UPSTREAM_ROUTES has more than 256 routes."],
    [
      "request_fields not an object",
      [route({ request_fields: ["stream_options"] })],
      "UPSTREAM_ROUTES[0].request_fields must be an object",
    ],
    [
      "request_fields renaming messages",
      [route({ request_fields: { messages: "prompt" } })],
      "UPSTREAM_ROUTES[0].request_fields names a field",
    ],
    [
      "request_fields with a number",
      [route({ request_fields: { user: 5 } })],
      "UPSTREAM_ROUTES[0].request_fields.user must be null",
    ],
    [
      "template_opens_think not a boolean",
      [route({ template_opens_think: "yes" })],
      "UPSTREAM_ROUTES[0].template_opens_think must be true or false",
    ],
    [
      "template_opens_think on a responses route",
      [route({ protocol: "responses", template_opens_think: true })],
      "UPSTREAM_ROUTES[0].template_opens_think applies to chat_completions routes only",
    ],
    [
      "reasoning_sent_as unknown",
      [route({ reasoning_sent_as: "reasoning" })],
      "UPSTREAM_ROUTES[0].reasoning_sent_as must be 'reasoning_content', 'thinking' or null (left out)",
    ],
    [
      "reasoning_sent_as on a responses route",
      [route({ protocol: "responses", reasoning_sent_as: "thinking" })],
      "UPSTREAM_ROUTES[0].reasoning_sent_as applies to chat_completions routes only",
    ],
    [
      "alternate_roles not a boolean",
      [route({ alternate_roles: 1 })],
      "UPSTREAM_ROUTES[0].alternate_roles must be true or false",
    ],
    [
      "reasoning_placeholder not a string",
      [route({ reasoning_placeholder: true })],
      "UPSTREAM_ROUTES[0].reasoning_placeholder must be a string of at most 256 characters, or null",
    ],
    [
      "reasoning_placeholder too long",
      [route({ reasoning_placeholder: "x".repeat(257) })],
      "UPSTREAM_ROUTES[0].reasoning_placeholder must be a string of at most 256 characters, or null",
    ],
    [
      "reasoning_placeholder on a responses route",
      [route({ protocol: "responses", reasoning_placeholder: " " })],
      "UPSTREAM_ROUTES[0].reasoning_placeholder applies to chat_completions routes only",
    ],
    [
      "reasoning_placeholder with reasoning sent as thinking parts",
      [route({ reasoning_placeholder: " ", reasoning_sent_as: "thinking" })],
      "UPSTREAM_ROUTES[0].reasoning_placeholder goes as reasoning_content: it needs reasoning_sent_as 'reasoning_content'",
    ],
    [
      "reasoning_placeholder with reasoning left out",
      [route({ reasoning_placeholder: " ", reasoning_sent_as: null })],
      "UPSTREAM_ROUTES[0].reasoning_placeholder goes as reasoning_content: it needs reasoning_sent_as 'reasoning_content'",
    ],
    [
      "compaction of another value",
      [route({ protocol: "responses", compaction: "server" })],
      "UPSTREAM_ROUTES[0].compaction must be 'upstream' or 'gateway'",
    ],
    [
      "compaction on a chat_completions route (the gateway always compacts there)",
      [route({ compaction: "gateway" })],
      "UPSTREAM_ROUTES[0].compaction applies to responses routes only",
    ],
    [
      "reasoning_input of another value",
      [route({ protocol: "responses", reasoning_input: "strip" })],
      "UPSTREAM_ROUTES[0].reasoning_input must be one of 'keep', 'drop_encrypted', 'raw_text_only', 'drop'",
    ],
    [
      "reasoning_input on a chat_completions route (reasoning goes there as text only)",
      [route({ reasoning_input: "drop" })],
      "UPSTREAM_ROUTES[0].reasoning_input applies to responses routes only",
    ],
    [
      "alternate_roles on a responses route",
      [route({ protocol: "responses", alternate_roles: true })],
      "UPSTREAM_ROUTES[0].alternate_roles applies to chat_completions routes only",
    ],
  ])("refuses %s, naming the entry and field", (_name, table, problem) => {
    expect(problemOf(table)).toContain(problem);
  });

  it.each([
    ["credentials", "https://user:sk-leak-1234@api.example/v1"],
    ["a query", "https://api.example/v1?key=sk-leak-1234"],
  ])("refuses a base_url carrying %s without quoting it", (_name, url) => {
    const problem = problemOf([route({ base_url: url })]);
    expect(problem).toBe("UPSTREAM_ROUTES[0].base_url must not carry credentials, a query or a fragment.");
    expect(problem).not.toContain("sk-leak");
  });

  it("never quotes the table in a JSON error (a key pasted into it stays out of logs)", () => {
    expect(problemOf('[{"model": "x", "api_key": sk-leak-1234}]')).toBe("UPSTREAM_ROUTES is not valid JSON.");
  });
});

describe("matching a model to a route", () => {
  const routes = routesOf([
    route({ model: "llama-*", base_url: "https://first/v1" }),
    route({ model: "*-70b*", base_url: "https://second/v1" }),
    route({ model: "gpt-4.1", base_url: "https://exact/v1" }),
    route({ model: "a+b(c)*", base_url: "https://literal/v1" }),
    route({ model: "*", base_url: "https://last/v1" }),
  ]);
  const target = (model: string) => matchRoute(routes, model)?.baseUrl;

  it.each([
    ["llama-3.3-70b-versatile", "https://first/v1"], // first match wins over *-70b*
    ["qwen-70b", "https://second/v1"],
    ["gpt-4.1", "https://exact/v1"],
    ["gpt-401", "https://last/v1"], // `.` is literal
    ["gpt-4.1-mini", "https://last/v1"], // patterns match the whole name
    ["a+b(c)-x", "https://literal/v1"], // regex characters are literal
    ["aab(c)", "https://last/v1"],
    ["", "https://last/v1"],
  ])("%j goes to %s", (model, url) => {
    expect(target(model)).toBe(url);
  });

  it("is case-sensitive, as model names are", () => {
    expect(matchRoute(routesOf([route()]), "Llama-3")).toBeUndefined();
  });
});

describe("chooseUpstream", () => {
  const table = JSON.stringify([
    route({ model: "groq/*", api_key_secret: "GROQ_API_KEY", strip_prefix: "groq/" }),
    route({ model: "local-*", base_url: "http://127.0.0.1:11434/v1" }),
    route({ model: "vllm/*", base_url: "http://vllm:8000/v1", protocol: "responses", api_key_secret: "VLLM_KEY" }),
  ]);
  const config = configOf({ UPSTREAM_ROUTES: table, GROQ_API_KEY: "gsk_route_key", UPSTREAM_API_KEY: "sk-default" });

  it("sends unmatched models to the default upstream with the caller's key, or the default key", () => {
    expect(chooseUpstream(config, "gpt-4o", "sk-client")).toEqual({
      baseUrl: "https://api.openai.com/v1",
      protocol: "responses",
      apiKey: "sk-client",
      callersKey: true,
    });
    expect(chooseUpstream(config, "gpt-4o", null)).toMatchObject({ apiKey: "sk-default", callersKey: false });
  });

  it("sends a route's named secret instead of the caller's key, and strips the model's prefix", () => {
    expect(chooseUpstream(config, "groq/llama-3.3-70b", "sk-client")).toEqual({
      baseUrl: "https://api.groq.com/openai/v1",
      protocol: "chat_completions",
      apiKey: "gsk_route_key",
      model: "llama-3.3-70b",
      callersKey: false,
      requestFields: null,
    });
  });

  it("reads a think block the template opened on a route with template_opens_think", () => {
    const opened = configOf({
      UPSTREAM_ROUTES: JSON.stringify([route({ model: "r1-*", template_opens_think: true }), route()]),
    });
    expect(targetOf(chooseUpstream(opened, "r1-distill", "sk-client")).protocol).toBe(chatCompletionsOpenThinkProtocol);
    expect(targetOf(chooseUpstream(opened, "llama-3", "sk-client")).protocol).toBe(chatCompletionsProtocol);
  });

  it("carries a route's reasoning_placeholder to its target only", () => {
    const thinking = configOf({
      UPSTREAM_ROUTES: JSON.stringify([route({ model: "deepseek-*", reasoning_placeholder: "" }), route()]),
    });
    expect(targetOf(chooseUpstream(thinking, "deepseek-v4", "sk-client")).reasoningPlaceholder).toBe("");
    expect(targetOf(chooseUpstream(thinking, "llama-3", "sk-client")).reasoningPlaceholder).toBeNull();
    expect(targetOf(chooseUpstream(thinking, "gpt-5", "sk-client")).reasoningPlaceholder).toBeNull();
  });

  it("sends the caller's key to a route without a named secret, never the default upstream's key", () => {
    expect(chooseUpstream(config, "local-llama", "sk-client")).toMatchObject({
      apiKey: "sk-client",
      model: null,
      callersKey: true,
    });
    expect(chooseUpstream(config, "local-llama", null).apiKey).toBeNull();
  });

  it("refuses a model whose route names a secret that is not set (503, no retry)", () => {
    const error = thrown(() => chooseUpstream(config, "vllm/qwen", "sk-client"));
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(503);
    expect(error.body().error).toEqual({
      message: "The upstream for model 'vllm/qwen' needs the secret 'VLLM_KEY', which is not set.",
      type: "server_error",
      param: null,
      code: "upstream_misconfigured",
    });
    expect(error.headers).toEqual({ "x-should-retry": "false" });
  });

  it("reads a route's secret as the settings are read: trimmed, blank as unset, no spaces inside", () => {
    const keyed = (key: string) => configOf({ UPSTREAM_ROUTES: table, GROQ_API_KEY: "gsk_route_key", VLLM_KEY: key });
    expect(chooseUpstream(keyed("vllm-key\n"), "vllm/qwen", "sk-client").apiKey).toBe("vllm-key");
    for (const [key, why] of [
      [" \n", "which is not set."],
      ["vllm key", "which holds spaces or control characters (8 characters)."],
      ["vllm\nkey", "which holds spaces or control characters (8 characters)."],
    ] as const) {
      const error = thrown(() => chooseUpstream(keyed(key), "vllm/qwen", "sk-client"));
      expect([error.status, error.code, error.message]).toEqual([
        503,
        "upstream_misconfigured",
        `The upstream for model 'vllm/qwen' needs the secret 'VLLM_KEY', ${why}`,
      ]);
    }
  });

  it("refuses every model while the table is broken, rather than guess where it should go", () => {
    const broken = configOf({ UPSTREAM_ROUTES: '[{"model":"x"}]' });
    for (const model of ["gpt-4o", "x"]) {
      const error = thrown(() => chooseUpstream(broken, model, "sk-client"));
      expect(error).toBeInstanceOf(ApiError);
      expect([error.status, error.code]).toEqual([503, "upstream_misconfigured"]);
      expect(error.message).toBe(
        "The gateway's upstream routing table is invalid: UPSTREAM_ROUTES[0].protocol must be 'responses' or 'chat_completions'.",
      );
    }
  });
});
