import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { client, gatewayFetch, GATEWAY_URL, model } from "../support/gateway";

describe("GET /v1/responses/{id}/input_items", () => {
  const input = Array.from({ length: 7 }, (_, i) => ({ role: "user" as const, content: `m${i}` }));

  it("lists input items newest first by default, with the list envelope", async () => {
    const openai = client();
    const response = await openai.responses.create({ model: model("text:1"), input });
    const page = await openai.responses.inputItems.list(response.id);
    expect(page.data.map((item) => (item as { content: { text: string }[] }).content[0]?.text)).toEqual([
      "m6",
      "m5",
      "m4",
      "m3",
      "m2",
      "m1",
      "m0",
    ]);
    expect(page.data[0]).toMatchObject({
      type: "message",
      role: "user",
      status: "completed",
      id: expect.stringMatching(/^msg_/) as string,
    });
    const raw = await gatewayFetch(`${GATEWAY_URL}/responses/${response.id}/input_items?limit=3`, {
      headers: { authorization: "Bearer sk-test-tenant-a" },
    });
    const body = await raw.json<{
      object: string;
      data: unknown[];
      first_id: string;
      last_id: string;
      has_more: boolean;
    }>();
    expect(body).toMatchObject({
      object: "list",
      first_id: page.data[0]?.id,
      last_id: page.data[2]?.id,
      has_more: true,
    });
    expect(body.data).toHaveLength(3);
  });

  it("auto-paginates with limit and order", async () => {
    const openai = client();
    const response = await openai.responses.create({ model: model("text:1"), input });
    const texts: string[] = [];
    for await (const item of openai.responses.inputItems.list(response.id, { limit: 2, order: "asc" }))
      texts.push((item as { content: { text: string }[] }).content[0]?.text ?? "");
    expect(texts).toEqual(["m0", "m1", "m2", "m3", "m4", "m5", "m6"]);
  });

  it("lists a string input as one user message with input_text", async () => {
    const openai = client();
    const response = await openai.responses.create({ model: model("text:1"), input: "just text" });
    const page = await openai.responses.inputItems.list(response.id);
    expect(page.data).toEqual([
      {
        id: expect.stringMatching(/^msg_[0-9a-f]{48}$/) as string,
        type: "message",
        role: "user",
        status: "completed",
        content: [{ type: "input_text", text: "just text" }],
      },
    ]);
  });

  it("lists an image part with its detail, auto when the request left it out", async () => {
    const openai = client();
    const image = "data:image/png;base64,iVBORw0KGgo=";
    const response = await openai.responses.create({
      model: model("text:1"),
      input: [
        {
          role: "user",
          content: [
            { type: "input_image", image_url: image } as OpenAI.Responses.ResponseInputImage,
            { type: "input_image", image_url: image, detail: "low" },
          ],
        },
      ],
    });
    const [item] = (await openai.responses.inputItems.list(response.id)).data;
    expect(item).toMatchObject({
      content: [
        { type: "input_image", image_url: image, detail: "auto" },
        { type: "input_image", image_url: image, detail: "low" },
      ],
    });
  });

  it("lists an image part of a tool output with its detail, auto when the request left it out", async () => {
    const openai = client();
    const image = "data:image/png;base64,iVBORw0KGgo=";
    const output = [
      { type: "input_text", text: "chart" },
      { type: "input_image", image_url: image },
    ] as OpenAI.Responses.ResponseCustomToolCallOutput["output"];
    const response = await openai.responses.create({
      model: model("text:1"),
      input: [
        { type: "function_call", call_id: "call_1", name: "plot", arguments: "{}" },
        {
          type: "function_call_output",
          call_id: "call_1",
          output: output as OpenAI.Responses.ResponseFunctionCallOutputItemList,
        },
        { type: "custom_tool_call", call_id: "call_2", name: "draw", input: "x" },
        { type: "custom_tool_call_output", call_id: "call_2", output },
      ],
    });
    const items = (await openai.responses.inputItems.list(response.id, { order: "asc" })).data;
    const listed = [
      { type: "input_text", text: "chart" },
      { type: "input_image", image_url: image, detail: "auto" },
    ];
    expect(items[1]).toMatchObject({ type: "function_call_output", output: listed });
    expect(items[3]).toMatchObject({ type: "custom_tool_call_output", output: listed });
  });

  it("validates limit and order", async () => {
    const openai = client();
    const response = await openai.responses.create({ model: model("text:1"), input: "x" });
    await expect(openai.responses.inputItems.list(response.id, { limit: 0 })).rejects.toMatchObject({
      status: 400,
      param: "limit",
    });
    await expect(openai.responses.inputItems.list(response.id, { limit: 101 })).rejects.toMatchObject({
      status: 400,
      param: "limit",
    });
    await expect(openai.responses.inputItems.list(response.id, { order: "sideways" as "asc" })).rejects.toMatchObject({
      status: 400,
      param: "order",
    });
  });

  it("takes OpenAI's include values on reads, and refuses any other as OpenAI does", async () => {
    const openai = client();
    const response = await openai.responses.create({ model: model("text:1"), input: "x" });
    const include = ["message.input_image.image_url", "reasoning.encrypted_content"] as const;
    expect((await openai.responses.inputItems.list(response.id, { include: [...include] })).data).toHaveLength(1);
    expect((await openai.responses.retrieve(response.id, { include: [...include] })).id).toBe(response.id);
    const typo = ["message.input_image.image_url", "message.input_image"] as unknown as typeof include;
    const refused = { status: 400, param: "include[1]", code: "invalid_value" };
    await expect(openai.responses.inputItems.list(response.id, { include: [...typo] })).rejects.toMatchObject(refused);
    await expect(openai.responses.retrieve(response.id, { include: [...typo] })).rejects.toMatchObject(refused);
    const conversation = await openai.conversations.create({});
    await expect(openai.conversations.items.list(conversation.id, { include: [...typo] })).rejects.toMatchObject(
      refused,
    );
    // Adding items and reading one take include[] too (the SDK sends it as a query on both).
    const items = [{ type: "message" as const, role: "user" as const, content: "kept" }];
    const added = await openai.conversations.items.create(conversation.id, { items, include: [...include] });
    const itemId = added.data[0]?.id ?? "";
    expect(
      (await openai.conversations.items.retrieve(itemId, { conversation_id: conversation.id, include: [...include] }))
        .id,
    ).toBe(itemId);
    await expect(
      openai.conversations.items.create(conversation.id, { items, include: [...typo] }),
    ).rejects.toMatchObject(refused);
    await expect(
      openai.conversations.items.retrieve(itemId, { conversation_id: conversation.id, include: [...typo] }),
    ).rejects.toMatchObject(refused);
    expect((await openai.conversations.items.list(conversation.id)).data).toHaveLength(1);
  });

  it("lists a shell call with the fields OpenAI lists as null when the request left them out", async () => {
    const res = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      method: "POST",
      headers: { authorization: "Bearer sk-test-tenant-a", "content-type": "application/json" },
      body: JSON.stringify({
        model: model("text:1"),
        input: [
          { type: "shell_call", call_id: "call_1", action: { commands: ["ls"] } },
          { type: "shell_call_output", call_id: "call_1", output: [{ stdout: "a", stderr: "", outcome: { type: "exit", exit_code: 0 } }] },
        ],
      }),
    }); // prettier-ignore
    const { id } = await res.json<{ id: string }>();
    const list = await gatewayFetch(`${GATEWAY_URL}/responses/${id}/input_items?order=asc`, {
      headers: { authorization: "Bearer sk-test-tenant-a" },
    });
    const { data } = await list.json<{ data: Record<string, unknown>[] }>();
    expect(data[0]).toMatchObject({
      type: "shell_call",
      status: "completed",
      environment: null,
      action: { commands: ["ls"], timeout_ms: null, max_output_length: null },
    });
    expect(data[1]).toMatchObject({ type: "shell_call_output", status: "completed", max_output_length: null });
  });

  it("lists logprobs only when include asks for them, as OpenAI does, and encrypted reasoning always", async () => {
    const openai = client();
    const logprobs = [{ token: "hi", logprob: -0.5, bytes: [104, 105], top_logprobs: [] }];
    const text = { type: "output_text" as const, text: "hi", annotations: [], logprobs };
    const response = await openai.responses.create({
      model: model("text:1"),
      input: [
        { role: "user", content: "x" },
        { type: "reasoning", id: "rs_input", summary: [], encrypted_content: "gAAAAopaque" },
        { type: "message", id: "msg_input", role: "assistant", content: [text], status: "completed" },
        { role: "user", content: "y" },
      ],
    });
    const listed = async (include?: ("reasoning.encrypted_content" | "message.output_text.logprobs")[]) =>
      (await openai.responses.inputItems.list(response.id, { order: "asc", include })).data.slice(1, 3);
    expect(await listed()).toEqual([
      { id: "rs_input", type: "reasoning", summary: [], encrypted_content: "gAAAAopaque" },
      {
        id: "msg_input",
        type: "message",
        role: "assistant",
        status: "completed",
        content: [{ ...text, logprobs: [] }],
      },
    ]);
    expect(await listed(["reasoning.encrypted_content", "message.output_text.logprobs"])).toEqual([
      { id: "rs_input", type: "reasoning", summary: [], encrypted_content: "gAAAAopaque" },
      { id: "msg_input", type: "message", role: "assistant", status: "completed", content: [text] },
    ]);
  });
});
