// Text that is not plain ASCII: what a client sends is forwarded, stored and returned exactly, and
// text that is not Unicode (an unpaired UTF-16 surrogate, sent as a `\ud800` escape) is a 400
// naming the field, never stored, as OpenAI refuses it.

import { describe, expect, it } from "vitest";
import { client, gatewayFetch, GATEWAY_URL, model, upstream } from "../support/gateway";
import { countAll } from "../support/shards";

const KEY = "sk-test-unicode";

/** A body as raw JSON text, so escapes reach the gateway exactly as written. */
const post = (path: string, json: string): Promise<Response> =>
  gatewayFetch(`${GATEWAY_URL}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: json,
  });

describe("text that is not plain ASCII", () => {
  it("an unpaired surrogate anywhere in a body is a 400 naming the field, and nothing is stored", async () => {
    const m = model("text:1");
    const name = JSON.stringify(m);
    const cases: [string, string, string][] = [
      [
        `{"model":${name},"input":"a\\ud800b"}`,
        "input",
        "the string holds an unpaired UTF-16 surrogate ('\\ud800' at index 1)",
      ],
      [`{"model":${name},"input":"x","instructions":"\\udfff"}`, "instructions", "('\\udfff' at index 0)"],
      [`{"model":"m\\ud83d","input":"x"}`, "model", "('\\ud83d' at index 1)"],
      [
        `{"model":${name},"input":[{"role":"user","content":[{"type":"input_text","text":"\\ud83d\\ude00\\ude00"}]}]}`,
        "input[0].content[0].text",
        "('\\ude00' at index 2)",
      ],
      [`{"model":${name},"input":"x","metadata":{"k\\udc00":"v"}}`, "metadata", "a property name holds"],
      [`{"model":${name},"input":"x","metadata":{"k":"\\ud800"}}`, "metadata.k", "the string holds"],
    ];
    for (const [body, param, words] of cases) {
      const response = await post("/responses", body);
      const error = (await response.json<{ error: { message: string; param: string; code: string } }>()).error;
      expect(response.status, body).toBe(400);
      expect(error).toMatchObject({ param, code: "invalid_value" });
      expect(error.message).toContain(words);
    }
    const conversation = await post("/conversations", `{"items":[{"role":"user","content":"\\udbff"}]}`);
    expect(conversation.status).toBe(400);
    expect(await conversation.json()).toMatchObject({ error: { param: "items[0].content" } });
    expect(await upstream.requests(m)).toHaveLength(0);
    expect(await countAll("SELECT count(*) AS n FROM responses WHERE model = ?", m)).toBe(0);
  });

  it("escaped pairs, NUL, line separators, BOMs, bidi controls and combining marks come back exactly", async () => {
    const m = model("text:1");
    const text = "a\u0000b\u0001\u007f\u2028\u2029\ufeff\u202eRTL\u202c e\u0301\u0301 \u{1F469}\u200D\u{1F4BB}";
    // Python's json.dumps (ensure_ascii) escapes every non-ASCII character, an emoji as a pair.
    const ascii = JSON.stringify(text).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
    const response = await post(
      "/responses",
      `{"model":${JSON.stringify(m)},"input":${ascii},"instructions":${ascii},"metadata":{"k\\ud83d\\ude00":${ascii}}}`,
    );
    expect(response.status).toBe(200);
    const created = await response.json<{ id: string; instructions: string; metadata: Record<string, string> }>();
    expect(created.instructions).toBe(text);
    expect(created.metadata).toEqual({ "k\u{1F600}": text });

    const openai = client(KEY);
    const stored = await openai.responses.retrieve(created.id);
    expect(stored.instructions).toBe(text);
    expect(stored.metadata).toEqual({ "k\u{1F600}": text });
    const items = await openai.responses.inputItems.list(created.id);
    expect(items.data).toMatchObject([{ content: [{ type: "input_text", text }] }]);
    const [sent] = await upstream.requests(m);
    expect(sent?.body).toMatchObject({ input: [{ role: "user", content: text }], instructions: text });
  });
});
