// Codex CLI's conversation over the socket, frame by frame as codex-rs sends it
// (codex-api/src/endpoint/responses_websocket.rs, core/src/client.rs): its handshake headers
// (`OpenAI-Beta: responses_websockets=2026-02-06`, session and thread ids, permessage-deflate
// offered), a `generate: false` warm-up with the whole prompt and `store: false`, then each request
// with `previous_response_id` and only the new items, through a tool call, over a Chat Completions
// upstream. Codex counts only `response.completed` as success and fails on any binary frame.

import { describe, expect, it } from "vitest";
import { received, routed } from "../support/chat";
import { gatewayFetch, GATEWAY_URL } from "../support/gateway";
import { RawSocket, type ServerEvent } from "./support/frames";

const KEY = "sk-test-ws-codex";
const THREAD = "019a4f3e-7c1d-7e22-9a5b-3c0d4e5f6a7b";

const HEADERS = {
  "openai-beta": "responses_websockets=2026-02-06",
  originator: "codex_cli_rs",
  version: "0.171.0",
  "user-agent": "codex_cli_rs/0.171.0 (Debian 13.0.0; x86_64) xterm-256color (codex-tui; 0.171.0)",
  "session-id": THREAD,
  "thread-id": THREAD,
  "sec-websocket-extensions": "permessage-deflate; client_max_window_bits",
};

const shell = {
  type: "function",
  name: "shell",
  description: "Runs a shell command and returns its output.",
  strict: false,
  parameters: {
    type: "object",
    properties: { command: { type: "array", items: { type: "string" } }, workdir: { type: "string" } },
    required: ["command"],
    additionalProperties: false,
  },
};

const message = (role: string, text: string) => ({ type: "message", role, content: [{ type: "input_text", text }] });

/** The fields Codex sends on every `response.create` of a session (ResponseCreateWsRequest). */
const base = (model: string) => ({
  type: "response.create",
  model,
  instructions: "You are Codex, a coding agent.",
  tools: [shell],
  tool_choice: "auto",
  parallel_tool_calls: false,
  reasoning: null,
  store: false,
  stream: true,
  include: [],
  prompt_cache_key: THREAD,
  client_metadata: { "x-codex-turn-metadata": '{"turn_id":"1"}' },
});

const types = (events: ServerEvent[]) => events.map((event) => event.type);
const responseOf = (events: ServerEvent[]) =>
  events.at(-1)?.response as { id: string; output: Record<string, unknown>[] };

describe("Codex CLI over the socket", () => {
  it("warms up, then runs a turn through a tool call, each request chained to the last", async () => {
    const m = routed("tools");
    const socket = await RawSocket.open({ headers: HEADERS }, KEY);
    const prompt = [
      message("developer", "<permissions instructions>workspace-write</permissions instructions>"),
      message("user", "<environment_context><cwd>/work/app</cwd></environment_context>"),
      message("user", "list the files"),
    ];

    socket.send({ ...base(m.model), input: prompt, generate: false });
    const warm = await socket.request();
    expect(types(warm)).toEqual(["response.created", "response.completed"]);
    expect(responseOf(warm)).toMatchObject({ status: "completed", output: [], store: false });
    expect(await received(m)).toEqual([]);

    socket.send({ ...base(m.model), previous_response_id: responseOf(warm).id, input: [] });
    const turn = await socket.request();
    expect(turn.at(-1)?.type).toBe("response.completed");
    const [call] = responseOf(turn).output;
    expect(call).toMatchObject({ type: "function_call", name: "shell" });
    // The upstream got the warm-up's prompt, expanded from the socket: the instructions and the developer
    // message as one system message, first (many chat templates take no second one).
    const first = (await received(m))[0]?.body.messages as { role: string }[];
    expect(first.map((entry) => entry.role)).toEqual(["system", "user", "user"]);

    socket.send({
      ...base(m.model),
      previous_response_id: responseOf(turn).id,
      input: [{ type: "function_call_output", call_id: call?.call_id, output: "README.md\nsrc" }],
    });
    const answer = await socket.request();
    expect(answer.at(-1)?.type).toBe("response.completed");
    expect(JSON.stringify(responseOf(answer).output)).toContain("results: README.md\\nsrc");
    const second = (await received(m))[1]?.body.messages as { role: string }[];
    expect(second.map((entry) => entry.role)).toEqual(["system", "user", "user", "assistant", "tool"]);

    // One JSON object per frame, each with its type; no error anywhere; sequence numbers per response.
    for (const request of [warm, turn, answer]) {
      expect(request.map((event) => event.sequence_number)).toEqual(request.map((_, index) => index));
      expect(types(request)).not.toContain("error");
    }
    socket.close();
    expect((await socket.closed).code).toBe(1000);
    // store:false: nothing of it is kept.
    const list = await gatewayFetch(`${GATEWAY_URL}/responses`, { headers: { authorization: `Bearer ${KEY}` } });
    expect((await list.json<{ data: unknown[] }>()).data).toEqual([]);
  });

  it("compacts with a compaction_trigger on the chain over a chat upstream (Codex's built-in provider)", async () => {
    const m = routed("summarize");
    const socket = await RawSocket.open({ headers: HEADERS }, KEY);
    socket.send({ ...base(m.model), input: [message("user", "list the files")], generate: false });
    const warm = responseOf(await socket.request());
    socket.send({ ...base(m.model), previous_response_id: warm.id, input: [] });
    const turn = responseOf(await socket.request());

    socket.send({ ...base(m.model), previous_response_id: turn.id, input: [{ type: "compaction_trigger" }] });
    const compaction = await socket.request();
    expect(compaction.at(-1)?.type).toBe("response.completed");
    expect(responseOf(compaction).output.map((item) => item.type)).toEqual(["compaction"]);
    // The turn, then the summary of the chain (its answer included); no model answered the trigger.
    const sent = await received(m);
    expect(sent.map((request) => request.body.stream)).toEqual([true, false]);
    expect(JSON.stringify(sent[1]?.body.messages)).toContain("seen: ");
    socket.close();
    expect((await socket.closed).code).toBe(1000);
  });
});
