import { describe, expect, it } from "vitest";
import { validateCreateRequest } from "../../src/responses/create-request";
import { foldEvents } from "../../src/responses/fold";
import { StreamNormalizer, type NormalizedEvent } from "../../src/responses/normalizer";
import { echoOf, newResponseObject } from "../../src/responses/response-object";
import { responseError, type StreamEvent } from "../../src/responses/types";
import { redact } from "../../src/upstream/client";
import { fixtureEvents } from "../support/fixtures";

const identity = { id: "resp_gateway", createdAt: 1_800_000_000 };

function normalizer(body: Record<string, unknown> = {}, background = false, anomalies: string[] = []) {
  const request = validateCreateRequest({ model: "m", input: "x", metadata: { k: "v" }, ...body, background });
  const initial = newResponseObject(request, identity, background ? "queued" : "in_progress");
  return new StreamNormalizer({
    echo: echoOf(request, identity),
    initial,
    background,
    onAnomaly: (m) => anomalies.push(m),
  });
}

const parse = (events: NormalizedEvent[]) => events.map((event) => JSON.parse(event.json) as StreamEvent);
const feed = (n: StreamNormalizer, events: StreamEvent[]) =>
  parse(events.flatMap((event) => n.accept(structuredClone(event))));

const recorded = () => fixtureEvents("responses/azure-text.1.chunks.txt") as StreamEvent[];

/** What the client got is whole: numbered from 0 without a gap, and its fold is the normalizer's snapshot. */
function expectWhole(n: StreamNormalizer, out: StreamEvent[]) {
  expect(out.map((e) => e.sequence_number)).toEqual(out.map((_, index) => index));
  expect(foldEvents(out)).toEqual(n.snapshot);
}

describe("StreamNormalizer", () => {
  it("numbers events from 0 and puts the gateway's id and echoed fields on every snapshot", () => {
    const out = feed(normalizer(), recorded());
    expect(out.map((event) => event.sequence_number)).toEqual(out.map((_, i) => i));
    for (const event of out.filter((e) => "response" in e)) {
      const response = event.response as Record<string, unknown>;
      expect(response).toMatchObject({
        id: "resp_gateway",
        created_at: 1_800_000_000,
        store: true,
        metadata: { k: "v" },
        background: false,
      });
    }
  });

  it("sends response.in_progress after response.created when the upstream sends none, as OpenAI always does", () => {
    const events = recorded().filter((event) => event.type !== "response.in_progress");
    const n = normalizer();
    const out = feed(n, events);
    expect(out.slice(0, 3).map((event) => event.type)).toEqual([
      "response.created",
      "response.in_progress",
      events[1]?.type,
    ]);
    expect(out[1]?.response).toMatchObject({ id: "resp_gateway", status: "in_progress" });
    expect(out.filter((event) => event.type === "response.in_progress")).toHaveLength(1);
    expectWhole(n, out);
    // The upstream's own is sent once, where it came, as it came.
    const upstream = recorded();
    const inProgress = upstream.find((event) => event.type === "response.in_progress");
    (inProgress?.response as Record<string, unknown>).x_upstream = "own";
    const own = feed(normalizer(), upstream);
    expect(own.filter((event) => event.type === "response.in_progress")).toHaveLength(1);
    expect(own.map((event) => event.type)).toEqual(recorded().map((event) => event.type));
    expect(own.find((event) => event.type === "response.in_progress")?.response).toMatchObject({ x_upstream: "own" });
    // A response that fails or is cut with nothing in it has one too; only an empty completion (a warm-up) not.
    const created = recorded()[0] as StreamEvent;
    for (const [type, status, expected] of [
      ["response.failed", "failed", ["response.created", "response.in_progress", "error", "response.failed"]],
      ["response.incomplete", "incomplete", ["response.created", "response.in_progress", "response.incomplete"]],
      ["response.completed", "completed", ["response.created", "response.completed"]],
    ] as const) {
      const end = { type, response: { ...(created.response as object), status, output: [] } } as StreamEvent;
      expect(feed(normalizer(), [created, end]).map((event) => event.type)).toEqual(expected);
    }
  });

  it("fills fields an upstream left out of a snapshot from the gateway's own", () => {
    const events = recorded();
    for (const event of events) if (event.response) delete (event.response as Record<string, unknown>).prompt_cache_key;
    const out = feed(normalizer({ prompt_cache_key: "pk" }), events);
    expect((out.at(-1)?.response as Record<string, unknown>).prompt_cache_key).toBe("pk");
  });

  it("lists the reasoning the gateway withheld with the upstream's own input_transformations, in input order", () => {
    const removed = (id: string, reason = "model_mismatch") => ({ id, action: "removed", reason, type: "reasoning" });
    const events = recorded();
    const terminal = events.at(-1)?.response as Record<string, unknown>;
    terminal.input_transformations = [removed("rs_b", "turn_boundary")];
    const n = normalizer();
    n.withhold({ entries: [removed("rs_a"), removed("rs_c")], order: ["rs_a", "rs_b", "rs_c"] });
    const out = feed(n, events).filter((event) => "response" in event);
    const listed = out.map((event) => (event.response as Record<string, unknown>).input_transformations);
    expect(listed.at(0)).toEqual([removed("rs_a"), removed("rs_c")]);
    expect(listed.at(-1)).toEqual([removed("rs_a"), removed("rs_b", "turn_boundary"), removed("rs_c")]);
    expect(n.snapshot.input_transformations).toEqual(listed.at(-1));
    // Nothing withheld: the upstream's own list as it came, and no field where it sent none.
    const plain = feed(normalizer(), recorded()).filter((event) => "response" in event);
    expect(plain.some((event) => "input_transformations" in (event.response as object))).toBe(false);
  });

  it("lists thousands of withheld reasoning items on each snapshot in time linear in them", () => {
    // A long agent context on a route that withholds its reasoning: every snapshot lists each item.
    const ids = Array.from({ length: 5_000 }, (_, at) => `rs_${String(at).padStart(48, "0")}`);
    const entries = ids.map((id) => ({ id, action: "removed", reason: "model_mismatch", type: "reasoning" }));
    const events = recorded();
    (events.at(-1)?.response as Record<string, unknown>).input_transformations = [
      { ...entries[4_999], reason: "turn_boundary" },
    ];
    const n = normalizer();
    n.withhold({ entries, order: ids });
    const started = performance.now();
    const out = feed(n, events);
    expect(performance.now() - started).toBeLessThan(250);
    const last = (out.at(-1)?.response as { input_transformations: { id: string; reason: string }[] })
      .input_transformations;
    expect(last.map((entry) => entry.id)).toEqual(ids);
    expect(last.at(-1)?.reason).toBe("turn_boundary");
  });

  it("announces a background response as created (queued) then queued, and moves it to in_progress", () => {
    const n = normalizer({}, true);
    const begun = parse(n.begin());
    expect(begun.map((e) => [e.type, (e.response as { status: string }).status])).toEqual([
      ["response.created", "queued"],
      ["response.queued", "queued"],
    ]);
    const out = feed(n, recorded());
    expect(out.map((e) => e.type).slice(0, 2)).toEqual(["response.in_progress", "response.output_item.added"]);
    expect(out.filter((e) => e.type === "response.created")).toHaveLength(0);
    expect(out.at(-1)?.sequence_number).toBe(begun.length + out.length - 1);
  });

  it("closes gaps in upstream output indexes and mints ids for items that lack one", () => {
    const events = recorded().map((event) => {
      const copy = structuredClone(event);
      if (typeof copy.output_index === "number") copy.output_index = 7;
      if (copy.item) delete (copy.item as Record<string, unknown>).id;
      if ("item_id" in copy) copy.item_id = "";
      return copy;
    });
    const out = feed(normalizer(), events);
    const itemEvents = out.filter((e) => typeof e.output_index === "number");
    expect(new Set(itemEvents.map((e) => e.output_index))).toEqual(new Set([0]));
    const added = out.find((e) => e.type === "response.output_item.added")?.item as { id: string };
    expect(added.id).toMatch(/^msg_[0-9a-f]{48}$/);
    for (const e of out.filter((e) => "item_id" in e)) expect(e.item_id).toBe(added.id);
    expect(out.at(-1)?.type).toBe("response.completed");
  });

  it("finishes an item left open when another is added at its index, and moves that one and its events on (Ollama)", () => {
    // Ollama's text then two calls sent apart: both calls come at the text's index, as does the text's.
    const events = fixtureEvents("responses/synthetic__ollama-text-then-tool.chunks.txt") as StreamEvent[];
    const call = events.slice(6, 10);
    const second = JSON.parse(
      JSON.stringify(call).replaceAll("fc_118273_0", "fc_2").replaceAll("call_k3v9x2ab", "call_2"),
    ) as StreamEvent[];
    const end = structuredClone(events[10] as StreamEvent & { response: { output: unknown[] } });
    end.response.output.push((second[3] as StreamEvent).item);
    const anomalies: string[] = [];
    const n = normalizer({}, false, anomalies);
    const out = feed(n, [...events.slice(0, 10), ...second, end]);

    const at = (type: string) =>
      out.filter((e) => e.type === type).map((e) => [e.output_index, (e.item as { id: string }).id]);
    const ids = ["msg_730144", "fc_118273_0", "fc_2"];
    expect(at("response.output_item.added")).toEqual(ids.map((id, i) => [i, id]));
    expect(at("response.output_item.done")).toEqual(ids.map((id, i) => [i, id]));
    const text = "Let me check the weather in Paris.";
    expect(out.slice(6, 9).map((e) => [e.type, e.output_index])).toEqual([
      ["response.output_text.done", 0],
      ["response.content_part.done", 0],
      ["response.output_item.done", 0],
    ]);
    expect(out[8]?.item).toMatchObject({ status: "completed", content: [{ type: "output_text", text }] });
    for (const e of out.filter((e) => e.item_id === "fc_2")) expect(e.output_index).toBe(2);
    const last = out.at(-1)?.response as { output: { id: string }[] };
    expect(last.output.map((item) => item.id)).toEqual(ids);
    expect(last.output).toEqual(n.snapshot.output);
    expect(anomalies).toEqual([
      "an item was added at an output index the upstream had given another item: that item was finished and the new one moved to the next index",
      "response.completed left out items it streamed: they are kept in its output",
    ]);
  });

  it("still fails a stream that adds the same item twice", () => {
    const events = recorded();
    const out = feed(normalizer(), [...events.slice(0, 3), ...events.slice(2)]);
    expect(out.slice(-2).map((e) => e.type)).toEqual(["error", "response.failed"]);
    expect((out.at(-2)?.error as { message: string }).message).toMatch(/duplicate output index 0$/);
  });

  it("drops event types the SDK does not know, and reports them", () => {
    const anomalies: string[] = [];
    const events = recorded();
    events.splice(3, 0, { type: "response.vendor_extension", sequence_number: 3 });
    const out = feed(normalizer({}, false, anomalies), events);
    expect(out.map((e) => e.type)).not.toContain("response.vendor_extension");
    expect(anomalies).toEqual(["dropped unknown event type 'response.vendor_extension'"]);
  });

  it("ends a stream that breaks the grammar with error + response.failed and the partial output", () => {
    const events = recorded();
    const broken = events.slice(0, 5);
    broken.push({
      type: "response.output_text.delta",
      item_id: "msg_other",
      output_index: 0,
      content_index: 0,
      delta: "x",
    });
    const out = feed(normalizer(), broken);
    expect(out.slice(-2).map((e) => e.type)).toEqual(["error", "response.failed"]);
    const failed = out.at(-1)?.response as { status: string; error: { code: string }; output: { status: string }[] };
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatchObject({ code: "server_error", type: "server_error", param: null });
    expect(failed.output[0]?.status).toBe("incomplete");
  });

  it("sends the start events a first upstream event that breaks the grammar was numbered after, before the failure", () => {
    const n = normalizer();
    const out = feed(n, [
      { type: "response.output_text.delta", item_id: "msg_1", output_index: 0, content_index: 0, delta: "x" },
    ]);
    expect(out.map((e) => e.type)).toEqual(["response.created", "response.in_progress", "error", "response.failed"]);
    expectWhole(n, out);
  });

  it("sends the items a grammar error's own call finished before the failure (a reused index, a terminal output)", () => {
    const events = recorded();
    const id = ((events[2] as StreamEvent).item as { id: string }).id;
    // Ollama's call at the open text's index finishes the text first; the call itself has no call_id.
    const reused = normalizer();
    const call = { type: "function_call", id: "fc_1", name: "f", arguments: "", status: "in_progress" };
    const out = feed(reused, [
      ...events.slice(0, 5),
      { type: "response.output_item.added", output_index: 0, item: call },
    ]);
    expect(out.slice(5).map((e) => e.type)).toEqual([
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "error",
      "response.failed",
    ]);
    expectWhole(reused, out);
    // Two items open at a completed end whose output lists the second with another part type: the
    // first is finished as listed, the second, which the fold refuses so, as streamed before the failure.
    const second = structuredClone(events.slice(2, 5)).map((event) => {
      const moved = { ...event, output_index: 1 } as StreamEvent;
      if (moved.item !== undefined) moved.item = { ...(moved.item as object), id: "msg_2" };
      else moved.item_id = "msg_2";
      return moved;
    });
    const listed = structuredClone((events[7] as StreamEvent).item) as { content: unknown[] };
    const refusal = { ...listed, id: "msg_2", content: [{ type: "refusal", refusal: "Hello" }] };
    const end = structuredClone(events[8] as StreamEvent);
    Object.assign(end.response as Record<string, unknown>, { output: [listed, refusal] });
    const terminal = normalizer();
    const ended = feed(terminal, [...events.slice(0, 5), ...second, end]);
    expect(ended.slice(8).map((e) => [e.type, e.output_index])).toEqual([
      ["response.output_text.done", 0],
      ["response.content_part.done", 0],
      ["response.output_item.done", 0],
      ["response.output_text.done", 1],
      ["response.content_part.done", 1],
      ["response.output_item.done", 1],
      ["error", undefined],
      ["response.failed", undefined],
    ]);
    expect(ended[10]?.item).toMatchObject({ id, status: "completed" });
    expect(ended[13]?.item).toMatchObject({ id: "msg_2", status: "incomplete" });
    expectWhole(terminal, ended);
  });

  it("ends failed, with its error, a response the upstream completed after an error event", () => {
    const events = recorded();
    const anomalies: string[] = [];
    const n = normalizer({}, false, anomalies);
    const error = { type: "error", code: "server_error", message: "The model crashed." } as StreamEvent;
    const out = feed(n, [...events.slice(0, 5), error, events.at(-1) as StreamEvent]);
    // Once: the error event, then response.failed in place of the upstream's response.completed.
    expect(out.filter((e) => e.type === "error")).toHaveLength(1);
    expect(out.at(-1)?.type).toBe("response.failed");
    expect(out.at(-1)?.response).toMatchObject({
      status: "failed",
      error: { code: "server_error", message: "The model crashed." },
    });
    expect(n.snapshot.status).toBe("failed");
    expect(anomalies).toContain(
      "response.completed came after an error event: sent as response.failed with that error",
    );
    expectWhole(n, out);
  });

  it("fails a stream that ends without a terminal event, once", () => {
    const n = normalizer();
    feed(n, recorded().slice(0, 6));
    const end = parse(n.finish());
    // The item the cut left open is finished `incomplete` first, as OpenAI finishes one cut short.
    expect(end.map((e) => e.type)).toEqual([
      "response.content_part.done",
      "response.output_item.done",
      "error",
      "response.failed",
    ]);
    expect(end[1]?.item).toMatchObject({ status: "incomplete", content: [{ type: "output_text", text: "Hello" }] });
    expect((end[3]?.response as { output: unknown[] }).output).toEqual([end[1]?.item]);
    expect(n.finish()).toEqual([]);
    expect(n.accept(recorded().at(-1) as StreamEvent)).toEqual([]);
  });

  it("precedes an upstream response.failed that came alone with an error event", () => {
    const events = recorded().slice(0, 2);
    const failed = structuredClone(events[1] as StreamEvent);
    failed.type = "response.failed";
    (failed.response as Record<string, unknown>).status = "failed";
    (failed.response as Record<string, unknown>).error = { code: "rate_limit_exceeded", message: "slow down" };
    const out = feed(normalizer(), [...events, failed]);
    expect(out.slice(-2).map((e) => e.type)).toEqual(["error", "response.failed"]);
    expect(out.at(-2)).toMatchObject({
      code: "rate_limit_exceeded",
      message: "slow down",
      error: { code: "rate_limit_exceeded" },
    });
  });

  it("takes the upstream's key out of every field of its in-band error and failed response, not only the message", () => {
    const key = "sk-proj-OPERATORKEY0123456789abcdefXYZ";
    const quoted = { code: key, message: `bad key ${key}`, param: key, type: key, [key]: [encodeURIComponent(key)] };
    const request = validateCreateRequest({ model: "m", input: "x" });
    const keyed = (redacted = true) =>
      new StreamNormalizer({
        echo: echoOf(request, identity),
        initial: newResponseObject(request, identity, "in_progress"),
        background: false,
        ...(redacted ? { redact: (text: string) => redact(text, key) } : {}),
      });
    const events = recorded().slice(0, 2);
    const failed = structuredClone(events[1] as StreamEvent);
    failed.type = "response.failed";
    Object.assign(failed.response as Record<string, unknown>, { status: "failed", error: quoted });
    const inBand = { ...quoted, type: "error", error: quoted } as StreamEvent;
    for (const ending of [[failed], [inBand, failed], [inBand]]) {
      const n = keyed();
      const sent = JSON.stringify(feed(n, [...events, ...ending]));
      expect(sent).toContain("[redacted]");
      expect(sent).not.toContain("OPERATORKEY");
      expect(JSON.stringify(n.snapshot)).not.toContain("OPERATORKEY");
    }
    // Without a redaction the key would have shown (the test sees what it means to).
    expect(JSON.stringify(feed(keyed(false), [...events, inBand]))).toContain("OPERATORKEY");
  });

  it("redacts an in-band error quoting a long input in time linear in its length", () => {
    // An error that echoes a long word (a server quoting the input it refused) is redacted whole
    // before it is cut; a masked-key search tried from each of its characters took quadratic time
    // (100,000 characters: several seconds).
    const key = "sk-proj-OPERATORKEY0123456789abcdefXYZ";
    const request = validateCreateRequest({ model: "m", input: "x" });
    const n = new StreamNormalizer({
      echo: echoOf(request, identity),
      initial: newResponseObject(request, identity, "in_progress"),
      background: false,
      redact: (text: string) => redact(text, key),
    });
    const message = `${"a".repeat(100_000)} sk-proj-****wxyz`;
    const started = performance.now();
    const sent = JSON.stringify(feed(n, [...recorded().slice(0, 2), { type: "error", message }]));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(sent).not.toContain("****wxyz");
    expect(redact(`${"a".repeat(100_000)} sk-proj-****wxyz`, key)).toBe(`${"a".repeat(100_000)} [redacted]`);
  });

  it("redacts a key quoted in part: elided, masked, or any 8 of its characters in a row, and nothing else", () => {
    const key = "sk-upstream-Q7fX2mK9pL4vR8sT1wY6a6";
    const quotes: [string, string][] = [
      ["Incorrect API key provided: sk-upstr...a6.", "Incorrect API key provided: [redacted]."],
      ["Incorrect API key provided: sk-...Y6a6", "Incorrect API key provided: [redacted]"],
      ["Invalid key sk-upstr…a6", "Invalid key [redacted]"],
      ["Invalid key sk-up**a6 (expired)", "Invalid key [redacted] (expired)"],
      ["Incorrect API key provided: sk-upstre********************a6.", "Incorrect API key provided: [redacted]."],
      ["key ending in ...2mK9pL4vR8sT1wY6a6 was revoked", "key ending in [redacted] was revoked"],
      ["Key 'sk-upstream-Q7fX2' is not valid", "Key '[redacted]' is not valid"],
      ["bad key (Q7fX2mK9pL4v)", "bad key ([redacted])"],
      // Not the key's: text stays as it was.
      ["Please wait... then retry at api.example.com", "Please wait... then retry at api.example.com"],
      ["sk-other...zz is not valid", "sk-other...zz is not valid"],
      // A word's last letter before an ellipsis is no quote of the key's start (`s` of `sk-`), nor one digit its end.
      ["The model's... output was cut", "The model's... output was cut"],
      ["Let's… try again, ...6 left", "Let's… try again, ...6 left"],
    ];
    for (const [quoted, shown] of quotes) expect(redact(quoted, key)).toBe(shown);
    // Linear in the text: a long error that repeats the key's start costs no more than its length.
    const long = `${"sk-upstr ".repeat(20_000)}...`;
    const started = performance.now();
    expect(redact(long, key)).toContain("[redacted]");
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("gives an upstream's failed error without type or param the ones its code implies, event and snapshot alike", () => {
    const events = recorded().slice(0, 2);
    const failed = structuredClone(events[1] as StreamEvent);
    failed.type = "response.failed";
    (failed.response as Record<string, unknown>).status = "failed";
    (failed.response as Record<string, unknown>).error = { code: "rate_limit_exceeded", message: "slow down" };
    const n = normalizer();
    const out = feed(n, [...events, failed]);
    const error = { code: "rate_limit_exceeded", message: "slow down", type: "rate_limit_error", param: null };
    expect(out.at(-2)).toMatchObject({ error });
    expect((out.at(-1)?.response as { error: unknown }).error).toEqual(error);
    expect(n.snapshot.error).toEqual(error);
  });

  it("keeps the type and param an upstream's failed error came with", () => {
    const events = recorded().slice(0, 2);
    const failed = structuredClone(events[1] as StreamEvent);
    failed.type = "response.failed";
    (failed.response as Record<string, unknown>).status = "failed";
    const error = { code: "invalid_prompt", message: "no", type: "invalid_request_error", param: "input" };
    (failed.response as Record<string, unknown>).error = error;
    const out = feed(normalizer(), [...events, failed]);
    expect((out.at(-1)?.response as { error: unknown }).error).toEqual(error);
  });

  it("fails a stream cut after an upstream error event with that error, typed as the event was", () => {
    const n = normalizer();
    const out = feed(n, [
      ...recorded().slice(0, 2),
      { type: "error", code: "insufficient_quota", message: "no quota", param: null },
    ]);
    expect(out.at(-1)).toMatchObject({ error: { type: "insufficient_quota", code: "insufficient_quota" } });
    const end = parse(n.finish());
    expect(end.map((e) => e.type)).toEqual(["response.failed"]);
    expect((end[0]?.response as { error: unknown }).error).toEqual({
      code: "insufficient_quota",
      message: "no quota",
      type: "insufficient_quota",
      param: null,
    });
  });

  it("finishes the items open at an upstream's error event before it, as the SDK reads nothing after it", () => {
    const events = recorded();
    const message = { ...((events[7] as StreamEvent).item as object), status: "incomplete" };
    const error = { type: "error", error: { type: "server_error", code: "server_error", message: "crashed" } };
    const failed = structuredClone(events[1] as StreamEvent);
    failed.type = "response.failed";
    // The upstream's terminal output may list the item as it stood when the error came.
    const listed = { ...message, status: "in_progress" };
    Object.assign(failed.response as Record<string, unknown>, { status: "failed", output: [listed] });
    for (const end of ["cut", "failed"] as const) {
      const n = normalizer();
      const sent = feed(n, [...events.slice(0, 5), error, ...(end === "failed" ? [failed] : [])]);
      const out = [...sent, ...parse(n.finish())];
      expect(out.slice(5).map((e) => e.type)).toEqual([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "error",
        "response.failed",
      ]);
      expect(out[7]?.item).toEqual(message);
      expect((out.at(-1)?.response as { output: unknown[] }).output).toEqual([message]);
      expectWhole(n, out);
    }
  });

  it("drops the events an upstream sends after its error for an item that error finished", () => {
    const events = recorded();
    const message = { ...((events[7] as StreamEvent).item as object), status: "incomplete" };
    const error = { type: "error", error: { type: "server_error", code: "server_error", message: "crashed" } };
    const anomalies: string[] = [];
    const n = normalizer({}, false, anomalies);
    // The upstream goes on with the item as if nothing happened, and completes (ended failed: its error stands).
    const out = feed(n, [...events.slice(0, 5), error, ...events.slice(4)]);
    expect(out.slice(5).map((e) => e.type)).toEqual([
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "error",
      "response.failed",
    ]);
    expect((out.at(-1)?.response as { output: unknown[] }).output).toEqual([message]);
    expectWhole(n, out);
    expect(anomalies).toContain("dropped events for an item the upstream's error event ended");
  });

  it("finishes the items an upstream's failed or incomplete end left open, incomplete, before it, and reports it", () => {
    const events = recorded();
    const message = structuredClone((events[7] as StreamEvent).item) as Record<string, unknown>;
    const listed = { ...message, status: "in_progress" };
    message.status = "incomplete";
    for (const [type, status, finishing] of [
      ["response.incomplete", "incomplete", []],
      ["response.failed", "failed", ["error"]],
    ] as const)
      // The terminal event without its output, or listing the open item as it stood.
      for (const output of [[], [listed]]) {
        const end = structuredClone(events[1] as StreamEvent);
        end.type = type;
        Object.assign(end.response as Record<string, unknown>, { status, output });
        const anomalies: string[] = [];
        const n = normalizer({}, false, anomalies);
        const out = feed(n, [...events.slice(0, 5), end]);
        expect(out.slice(5).map((e) => e.type)).toEqual([
          "response.output_text.done",
          "response.content_part.done",
          "response.output_item.done",
          ...finishing,
          type,
        ]);
        expect(out.find((e) => e.type === "response.output_item.done")?.item).toEqual(message);
        const last = out.at(-1)?.response as { status: string; output: unknown[] };
        expect(last.status).toBe(status);
        expect(last.output).toEqual([message]);
        expect(n.snapshot.output).toEqual([message]);
        expect(anomalies).toContain(`${type} left items open: they were finished before it`);
      }
  });

  it("leaves a call that a failed end cut open, so no client runs its truncated arguments", () => {
    const call = {
      type: "function_call",
      id: "fc_1",
      call_id: "call_1",
      name: "shell",
      arguments: "",
      status: "in_progress",
    };
    const n = normalizer();
    const out = feed(n, [
      ...recorded().slice(0, 2),
      { type: "response.output_item.added", output_index: 0, item: call },
      {
        type: "response.function_call_arguments.delta",
        output_index: 0,
        item_id: "fc_1",
        delta: '{"cmd":"rm -rf /tmp/',
      },
      { type: "error", code: "server_error", message: "cut", param: null },
    ]);
    const end = [...out, ...parse(n.finish())];
    expect(end.map((e) => e.type)).not.toContain("response.output_item.done");
    const failed = end.at(-1)?.response as { status: string; output: { status: string }[] };
    expect(failed.status).toBe("failed");
    expect(failed.output[0]).toMatchObject({ type: "function_call", status: "incomplete" });
  });

  it("lists a call a failed or incomplete end cut open as streamed, incomplete, though the upstream lists it completed", () => {
    const call = { type: "function_call", id: "fc_1", call_id: "call_1", name: "shell", arguments: "" };
    const cut = { ...call, arguments: '{"cmd":"rm -rf /tmp/', status: "incomplete" };
    for (const [type, status] of [
      ["response.incomplete", "incomplete"],
      ["response.failed", "failed"],
    ] as const) {
      const end = structuredClone(recorded()[1] as StreamEvent);
      end.type = type;
      // The upstream's own output calls it done, with arguments the stream never finished.
      const listed = { ...call, arguments: '{"cmd":"rm -rf /tmp/x"}', status: "completed" };
      Object.assign(end.response as Record<string, unknown>, { status, output: [listed] });
      const n = normalizer();
      const out = feed(n, [
        ...recorded().slice(0, 2),
        { type: "response.output_item.added", output_index: 0, item: { ...call, status: "in_progress" } },
        { type: "response.function_call_arguments.delta", output_index: 0, item_id: "fc_1", delta: cut.arguments },
        end,
      ]);
      expect(out.map((e) => e.type)).not.toContain("response.output_item.done");
      expect((out.at(-1)?.response as { output: unknown[] }).output).toEqual([cut]);
      expect(n.snapshot.output).toEqual([cut]);
      expectWhole(n, out);
    }
  });

  it("finishes the items a completed end left open before it, only the parts still open, and reports it", () => {
    const events = recorded();
    const message = (events[7] as StreamEvent).item;
    for (const [cut, output, finishing] of [
      // Cut inside the part, the terminal event listing the item: finished as that lists it.
      [5, [message], ["response.output_text.done", "response.content_part.done", "response.output_item.done"]],
      // Part already finished, the terminal event listing nothing (SGLang's output: []): as streamed.
      [7, [], ["response.output_item.done"]],
    ] as const) {
      const end = structuredClone(events[8] as StreamEvent);
      Object.assign(end.response as Record<string, unknown>, { output });
      const anomalies: string[] = [];
      const n = normalizer({}, false, anomalies);
      const out = feed(n, [...events.slice(0, cut), end]);
      expect(out.slice(cut).map((e) => e.type)).toEqual([...finishing, "response.completed"]);
      const done = out.find((e) => e.type === "response.output_item.done")?.item;
      expect(done).toEqual(message);
      expect((out.at(-1)?.response as { output: unknown[] }).output).toEqual([message]);
      expect(n.snapshot.output).toEqual([message]);
      expect(anomalies).toContain("response.completed left items open: they were finished before it");
      if (output.length === 0)
        expect(anomalies).toContain(
          "response.completed listed no output after the stream added items: the streamed items are kept",
        );
    }
  });

  it("cancels without an event and keeps the partial output", () => {
    const n = normalizer({}, true);
    n.begin();
    feed(n, recorded().slice(0, 5));
    const cancelled = n.cancel();
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.output).toHaveLength(1);
    expect(n.terminal).toBe(true);
  });

  it("resumes from its recorded events and continues the numbering", () => {
    const first = normalizer();
    const out = feed(first, recorded().slice(0, 6));
    const resumed = StreamNormalizer.resume(
      {
        echo: echoOf(validateCreateRequest({ model: "m", input: "x" }), identity),
        initial: first.snapshot,
        background: false,
      },
      out,
    );
    const failed = parse(resumed.fail(responseError("server_error", "interrupted"), "gateway"));
    expect(failed.map((e) => [e.type, e.sequence_number])).toEqual([
      ["response.content_part.done", 6],
      ["response.output_item.done", 7],
      ["error", 8],
      ["response.failed", 9],
    ]);
  });
});
