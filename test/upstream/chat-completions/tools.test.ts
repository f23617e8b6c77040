// Tools beyond plain functions through a Chat Completions server: namespaces (Codex CLI's MCP
// tools) flattened and mapped back exactly, names over the 64-character limit, custom tools with
// grammars, client-executed tool search and the tools it loads, deferred tools, client tools
// (local_shell, shell, apply_patch), and configuration updates; each call checked by the SDK too.

import { describe, expect, it } from "vitest";
import { validateCreateRequest } from "../../../src/responses/create-request";
import type { InputItem, JsonObject, OutputItem } from "../../../src/responses/types";
import type { SseMessage } from "../../../src/sse";
import { chatCompletionsProtocol } from "../../../src/upstream/chat-completions";
import { run, sdkFromSse, setup, withoutSdkFields, type Run } from "./harness";

const message = (chunk: JsonObject): SseMessage => ({ data: JSON.stringify(chunk) });
const toolCall = (index: number, id: string, name: string, args: string): SseMessage =>
  message({
    id: "chatcmpl-1",
    choices: [{ index: 0, delta: { tool_calls: [{ index, id, function: { name, arguments: args } }] } }],
  });
const FINISH = message({ id: "chatcmpl-1", choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] });
const DONE: SseMessage = { data: "[DONE]" };

/** The chat body the gateway sends for a request whose context is `input` (default: its own input). */
function build(body: JsonObject, input?: InputItem[]): JsonObject {
  const request = validateCreateRequest({ model: "m", input: "hi", ...body });
  chatCompletionsProtocol.validate(request);
  return chatCompletionsProtocol.buildBody(request, input ?? request.input);
}

type ChatFunction = { type: "function"; function: { name: string; description?: string; parameters: JsonObject } };
const functionsOf = (body: JsonObject) => body.tools as ChatFunction[];
const namesOf = (body: JsonObject) => functionsOf(body).map((tool) => tool.function.name);

async function expectSdkAgrees(result: Run): Promise<void> {
  expect(result.anomalies).toEqual([]);
  expect(withoutSdkFields(await sdkFromSse(result))).toEqual(result.final);
}

/** A namespace as Codex CLI sends its MCP tools (codex-rs `ResponsesApiNamespace`). */
const codexNamespace = {
  type: "namespace",
  name: "mcp__deepwiki__",
  description: "Tools in the mcp__deepwiki__ namespace.",
  tools: [
    {
      type: "function",
      name: "ask_question",
      description: "Ask about a repository.",
      strict: false,
      parameters: { type: "object", properties: { question: { type: "string" } }, required: ["question"] },
    },
  ],
};
const crm = {
  type: "namespace",
  name: "crm",
  description: "CRM",
  tools: [
    { type: "function", name: "find_customer", parameters: { type: "object", properties: {} } },
    { type: "custom", name: "note", description: "Free text note." },
  ],
};

describe("namespaced tools", () => {
  it("flattens each member to <namespace>__<name> (Codex's mcp__server__ prefix kept as is)", () => {
    const body = build({ tools: [codexNamespace, crm, { type: "function", name: "plain" }] });
    expect(namesOf(body)).toEqual(["mcp__deepwiki__ask_question", "crm__find_customer", "crm__note", "plain"]);
    expect(functionsOf(body)[0]?.function).toEqual({
      name: "mcp__deepwiki__ask_question",
      description: "Ask about a repository.",
      parameters: codexNamespace.tools[0]?.parameters,
      strict: false,
    });
  });

  it("returns a call with its name and namespace restored, function and custom alike", async () => {
    const at = setup({ tools: [codexNamespace, crm] });
    const result = run(
      [
        toolCall(0, "call_a", "mcp__deepwiki__ask_question", '{"question":"what?"}'),
        toolCall(1, "call_b", "crm__note", '{"input":"call back"}'),
        FINISH,
        DONE,
      ],
      at,
    );
    expect(result.final.output).toMatchObject([
      { type: "function_call", name: "ask_question", namespace: "mcp__deepwiki__", call_id: "call_a" },
      { type: "custom_tool_call", name: "note", namespace: "crm", call_id: "call_b", input: "call back" },
    ]);
    const done = result.events.find((event) => event.type === "response.function_call_arguments.done");
    expect(done?.name).toBe("ask_question");
    await expectSdkAgrees(result);
  });

  it("sends a namespaced call of history under its flattened name", () => {
    const input = [
      { role: "user", content: "hi" },
      { type: "function_call", call_id: "call_a", name: "find_customer", namespace: "crm", arguments: "{}" },
      { type: "function_call_output", call_id: "call_a", output: "found" },
    ];
    const messages = build({ tools: [crm], input }).messages as JsonObject[];
    expect(messages[1]).toEqual({
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_a", type: "function", function: { name: "crm__find_customer", arguments: "{}" } }],
    });
  });

  it("keeps names within 64 characters of [a-zA-Z0-9_-], each mapping back to its own tool", async () => {
    const long = "n".repeat(60);
    const namespaced = (name: string) => ({
      type: "namespace",
      name: long,
      description: "d",
      tools: [{ type: "function", name }],
    });
    const body = build({
      tools: [
        namespaced("first_tool"),
        namespaced("second_tool"),
        { type: "function", name: "x".repeat(100) },
        { type: "function", name: "has.dot" },
      ],
    });
    const names = namesOf(body);
    for (const name of names) expect(name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(new Set(names).size).toBe(4);
    const at = setup({ tools: [namespaced("first_tool"), namespaced("second_tool")] });
    const result = run(
      [toolCall(0, "c1", names[1] as string, "{}"), toolCall(1, "c2", names[0] as string, "{}"), FINISH, DONE],
      at,
    );
    expect(result.final.output).toMatchObject([
      { type: "function_call", name: "second_tool", namespace: long },
      { type: "function_call", name: "first_tool", namespace: long },
    ]);
    await expectSdkAgrees(result);
  });

  it("forces a namespaced function by tool_choice, and allows a whole namespace", () => {
    const choice = build({
      tools: [crm, { type: "function", name: "plain" }],
      tool_choice: { type: "function", name: "find_customer" },
    });
    expect(choice.tool_choice).toEqual({ type: "function", function: { name: "crm__find_customer" } });
    const allowed = build({
      tools: [crm, { type: "function", name: "plain" }],
      tool_choice: { type: "allowed_tools", mode: "required", tools: [{ type: "namespace", name: "crm" }] },
    });
    expect(namesOf(allowed)).toEqual(["crm__find_customer", "crm__note"]);
  });

  it("refuses a tool_choice naming no offered tool, and a namespace holding another namespace", () => {
    expect(() => build({ tools: [crm], tool_choice: { type: "function", name: "nope" } })).toThrow(/not in 'tools'/);
    expect(() =>
      build({ tools: [{ type: "namespace", name: "a", description: "d", tools: [{ type: "web_search" }] }] }),
    ).toThrow(/tools\[0\]\.tools\[0\]/);
  });
});

describe("custom tools with grammars", () => {
  it("turns a regex grammar into the input's JSON Schema pattern", () => {
    const tool = { type: "custom", name: "zip", format: { type: "grammar", syntax: "regex", definition: "^\\d{5}$" } };
    expect(functionsOf(build({ tools: [tool] }))[0]?.function.parameters).toEqual({
      type: "object",
      properties: { input: { type: "string", pattern: "^\\d{5}$" } },
      required: ["input"],
      additionalProperties: false,
    });
  });

  it("gives a Lark grammar to the model in the description", () => {
    const definition = 'start: "yes" | "no"';
    const tool = {
      type: "custom",
      name: "answer",
      description: "Answer.",
      format: { type: "grammar", syntax: "lark", definition },
    };
    const fn = functionsOf(build({ tools: [tool] }))[0]?.function;
    expect(fn?.description).toBe(`Answer.\n\nThe input must match this lark grammar:\n${definition}`);
    expect(fn?.parameters).toMatchObject({ properties: { input: { type: "string" } } });
  });
});

describe("tool search and deferred tools", () => {
  const search = {
    type: "tool_search",
    execution: "client",
    description: "Find tools.",
    parameters: { type: "object", properties: { query: { type: "string" }, limit: { type: "integer" } } },
  };

  it("offers a client-executed search as a function, and returns its calls as tool_search_call items", async () => {
    expect(functionsOf(build({ tools: [search] }))).toEqual([
      {
        type: "function",
        function: { name: "tool_search", description: "Find tools.", parameters: search.parameters },
      },
    ]);
    const result = run(
      [toolCall(0, "call_s", "tool_search", '{"query":"crm","limit":3}'), FINISH, DONE],
      setup({ tools: [search] }),
    );
    expect(result.final.output).toEqual([
      {
        id: expect.stringMatching(/^tsc_/) as string,
        type: "tool_search_call",
        call_id: "call_s",
        execution: "client",
        arguments: { query: "crm", limit: 3 },
        status: "completed",
      },
    ]);
    await expectSdkAgrees(result);
  });

  it("makes the tools a tool_search_output loaded callable, and maps their calls back", async () => {
    const context: InputItem[] = [
      { role: "user", content: "find the customer" },
      {
        type: "tool_search_call",
        call_id: "call_s",
        execution: "client",
        arguments: { query: "crm" },
        status: "completed",
      },
      {
        type: "tool_search_output",
        call_id: "call_s",
        execution: "client",
        tools: [{ ...crm, tools: [{ ...crm.tools[0], defer_loading: true }] }],
      },
    ];
    const body = build({ tools: [search] }, context);
    expect(namesOf(body)).toEqual(["tool_search", "crm__find_customer"]);
    expect((body.messages as JsonObject[]).slice(1)).toEqual([
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_s", type: "function", function: { name: "tool_search", arguments: '{"query":"crm"}' } },
        ],
      },
      {
        role: "tool",
        tool_call_id: "call_s",
        content: JSON.stringify({ loaded_tools: [{ name: "crm__find_customer", description: null }] }),
      },
    ]);
    const result = run(
      [toolCall(0, "call_f", "crm__find_customer", "{}"), FINISH, DONE],
      setup({ tools: [search] }, context),
    );
    expect(result.final.output).toMatchObject([{ type: "function_call", name: "find_customer", namespace: "crm" }]);
    await expectSdkAgrees(result);
  });

  it("runs a server-executed search itself: every deferred tool is offered up front, no search function", () => {
    const deferred = {
      type: "function",
      name: "rare",
      defer_loading: true,
      parameters: { type: "object", properties: {} },
    };
    expect(namesOf(build({ tools: [{ type: "tool_search" }, deferred, crm] }))).toEqual([
      "rare",
      "crm__find_customer",
      "crm__note",
    ]);
  });

  it("makes additional_tools callable", () => {
    const input = [
      { role: "user", content: "hi" },
      { type: "additional_tools", role: "developer", tools: [{ type: "function", name: "late" }] },
    ];
    expect(namesOf(build({ input }))).toEqual(["late"]);
  });

  it("refuses a hosted tool that a tool_search_output loads, naming it; a web search it loads is left out", () => {
    const input = [{ type: "tool_search_output", call_id: "c", tools: [{ type: "file_search" }] }];
    expect(() => build({ input, tools: [search] })).toThrow(/'input\[0\]\.tools\[0\]'.*'file_search'/);
    const loaded = [
      { type: "tool_search_output", call_id: "c", tools: [{ type: "web_search" }, { type: "function", name: "late" }] },
    ];
    expect(namesOf(build({ input: loaded, tools: [search] }))).toEqual(["tool_search", "late"]);
  });
});

describe("client tools", () => {
  it.each([
    [
      "local_shell",
      '{"command":["ls","-la"],"working_directory":"/tmp"}',
      {
        type: "local_shell_call",
        status: "completed",
        action: {
          type: "exec",
          command: ["ls", "-la"],
          env: {},
          timeout_ms: null,
          user: null,
          working_directory: "/tmp",
        },
      },
    ],
    [
      "shell",
      '{"commands":["ls"],"timeout_ms":1000}',
      {
        type: "shell_call",
        status: "completed",
        environment: { type: "local" },
        action: { commands: ["ls"], timeout_ms: 1000, max_output_length: null },
      },
    ],
    [
      "apply_patch",
      '{"type":"update_file","path":"a.py","diff":"@@\\n-a\\n+b"}',
      {
        type: "apply_patch_call",
        status: "completed",
        operation: { type: "update_file", path: "a.py", diff: "@@\n-a\n+b" },
      },
    ],
  ])("offers %s as a function and returns its calls as native items", async (type, args, item) => {
    expect(namesOf(build({ tools: [{ type }] }))).toEqual([type]);
    const result = run([toolCall(0, "call_c", type, args), FINISH, DONE], setup({ tools: [{ type }] }));
    expect(result.final.output).toEqual([{ id: expect.any(String) as string, call_id: "call_c", ...item }]);
    await expectSdkAgrees(result);
  });

  it("sends their calls and outputs of history as tool calls and tool messages", () => {
    const input = [
      { role: "user", content: "go" },
      { type: "shell_call", call_id: "c1", action: { commands: ["ls"], timeout_ms: null, max_output_length: null } },
      {
        type: "shell_call_output",
        call_id: "c1",
        output: [{ stdout: "a.py", stderr: "", outcome: { type: "exit", exit_code: 0 } }],
      },
      {
        type: "apply_patch_call",
        call_id: "c2",
        status: "completed",
        operation: { type: "delete_file", path: "a.py" },
      },
      { type: "apply_patch_call_output", call_id: "c2", status: "failed", output: "no such file" },
      {
        type: "local_shell_call",
        id: "lsh_1",
        call_id: "c3",
        status: "completed",
        action: { type: "exec", command: ["pwd"], env: {} },
      },
      { type: "local_shell_call_output", id: "c3", output: "/tmp" },
    ];
    const messages = build({ input, tools: [{ type: "shell" }, { type: "apply_patch" }, { type: "local_shell" }] })
      .messages as JsonObject[];
    expect(messages.slice(1)).toEqual([
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "c1",
            type: "function",
            function: { name: "shell", arguments: '{"commands":["ls"],"timeout_ms":null,"max_output_length":null}' },
          },
        ],
      },
      { role: "tool", tool_call_id: "c1", content: "stdout:\na.py\nstderr:\n\n(exit code 0)" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "c2",
            type: "function",
            function: { name: "apply_patch", arguments: '{"type":"delete_file","path":"a.py"}' },
          },
        ],
      },
      { role: "tool", tool_call_id: "c2", content: "failed: no such file" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "c3", type: "function", function: { name: "local_shell", arguments: '{"command":["pwd"],"env":{}}' } },
        ],
      },
      { role: "tool", tool_call_id: "c3", content: "/tmp" },
    ]);
  });

  it("forces a client tool by its tool_choice type", () => {
    const body = build({ tools: [{ type: "shell" }, { type: "apply_patch" }], tool_choice: { type: "apply_patch" } });
    expect(body.tool_choice).toEqual({ type: "function", function: { name: "apply_patch" } });
  });

  it("keeps a user function and a client tool of the same name apart", async () => {
    const tools = [{ type: "function", name: "shell" }, { type: "shell" }];
    const names = namesOf(build({ tools }));
    expect(names[0]).toBe("shell");
    expect(names[1]).toMatch(/^shell_[0-9a-f]{8}$/);
    const result = run([toolCall(0, "c", names[1] as string, '{"commands":["ls"]}'), FINISH, DONE], setup({ tools }));
    expect((result.final.output[0] as OutputItem).type).toBe("shell_call");
    await expectSdkAgrees(result);
  });
});

describe("configuration updates", () => {
  it("applies the latest update's effort and format where the request sets none", () => {
    const format = { type: "json_schema", name: "out", schema: { type: "object" } };
    const input = [
      { type: "configuration_update", reasoning: { effort: "high" } },
      { type: "configuration_update", reasoning: { effort: "low" }, text: { format } },
      { role: "user", content: "hi" },
    ];
    expect(build({ input })).toMatchObject({ reasoning_effort: "low", response_format: { type: "json_schema" } });
    expect(build({ input, reasoning: { effort: "minimal" } }).reasoning_effort).toBe("minimal");
  });
});
