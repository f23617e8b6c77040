// Replays real recorded upstream streams through the gateway: the client must see the same events
// (only the gateway-owned fields rewritten, and fields an older recording lacks filled in), the
// stored snapshot must equal the terminal event's response, and the replayed log must equal the stream.

import { describe, expect, it } from "vitest";
import { foldEvents } from "../../src/responses/fold";
import type { StreamEvent } from "../../src/responses/types";
import { fixtureEvents, splitResponses } from "../support/fixtures";
import { client, gatewayFetch, GATEWAY_URL, model, readEvents } from "../support/gateway";

type Event = Record<string, unknown>;

const OWNED = [
  "id",
  "created_at",
  "completed_at",
  "background",
  "store",
  "previous_response_id",
  "metadata",
  "instructions",
  "conversation",
  "prompt",
];

function comparable(event: Event): Event {
  const { sequence_number: _seq, ...rest } = event;
  if (typeof rest.response === "object" && rest.response !== null) {
    const response = { ...(rest.response as Event) };
    for (const field of OWNED) delete response[field];
    // The gateway serializes every field, as OpenAI does: a field an older recording omits is null.
    for (const [field, value] of Object.entries(response)) if (value === null) delete response[field];
    rest.response = response;
  }
  if (rest.type === "error") {
    const nested = (rest.error ?? {}) as Event;
    return { type: "error", code: nested.code, message: nested.message, param: nested.param ?? null };
  }
  return rest;
}

/**
 * `received` without the fields `recorded` does not have: the gateway fills in what OpenAI sends
 * today (presence_penalty, usage's cache_write_tokens, the function name on arguments.done...) over
 * older recordings; everything the recording does have must be unchanged.
 */
function onlyRecorded(received: unknown, recorded: unknown): unknown {
  if (Array.isArray(received) && Array.isArray(recorded))
    return received.map((value, i) => onlyRecorded(value, recorded[i]));
  if (typeof received !== "object" || received === null || typeof recorded !== "object" || recorded === null)
    return received;
  const kept = Object.entries(received).filter(([field]) => field in recorded);
  return Object.fromEntries(kept.map(([field, value]) => [field, onlyRecorded(value, (recorded as Event)[field])]));
}

const auth = { authorization: "Bearer sk-test-fixtures", "content-type": "application/json" };

const cases: [string, number][] = [
  ["azure-text.1.chunks.txt", 0],
  ["azure-tool-call.1.chunks.txt", 0],
  ["openai-web-search-tool.1.chunks.txt", 0],
  ["openai-error.1.chunks.txt", 0],
  ["openai-reasoning-encrypted-content.1.chunks.txt", 0],
  ["openai-reasoning-encrypted-content.1.chunks.txt", 1],
  ["openai-reasoning-encrypted-content.1.chunks.txt", 2],
  ["openai-reasoning-encrypted-content.1.chunks.txt", 3],
];

describe("recorded Responses streams through the gateway", () => {
  it.each(cases)("%s (response %i)", async (file, index) => {
    const recorded = splitResponses(fixtureEvents(`responses/${file}`))[index] as Event[];
    const res = await gatewayFetch(`${GATEWAY_URL}/responses`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ model: model(`fixture:${file}:${index}`), input: "replay", stream: true }),
    });
    const received = await readEvents(res.body);

    expect(received.map((event) => event.sequence_number)).toEqual(received.map((_, i) => i));
    const recordedEvents = recorded.map(comparable);
    expect(received.map(comparable).map((event, i) => onlyRecorded(event, recordedEvents[i]))).toEqual(recordedEvents);

    const id = (received[0]?.response as Event).id as string;
    const terminal = received.at(-1)?.response as Event;
    const stored = await (await gatewayFetch(`${GATEWAY_URL}/responses/${id}`, { headers: auth })).json();
    expect(stored).toEqual(terminal);
    expect(foldEvents(received as StreamEvent[])).toEqual(stored);

    const replay = await gatewayFetch(`${GATEWAY_URL}/responses/${id}?stream=true`, { headers: auth });
    expect(await readEvents(replay.body)).toEqual(received);
  });
});

/**
 * Synthetic streams (test/fixtures/responses/PROVENANCE.md) modelled on servers whose `/v1/responses`
 * breaks the grammar the SDK's stream helper enforces: the gateway repairs them, and the helper,
 * the stored response and the replay all agree.
 */
const repaired: [file: string, summary: string[], reasoning: string[]][] = [
  // vLLM: `response.reasoning_part.added`/`.done` around a reasoning item's `reasoning_text` part
  ["synthetic__vllm-reasoning-parts.chunks.txt", [], ["think hard"]],
  // Ollama: `reasoning_summary_text.delta`/`.done` without `reasoning_summary_part.added`/`.done`
  ["synthetic__ollama-reasoning-summary.chunks.txt", ["The user says hi"], []],
];

describe("synthetic Responses streams the gateway repairs", () => {
  it.each(repaired)(
    "%s reaches the SDK's stream helper whole, stored as streamed",
    async (file, summary, reasoning) => {
      const openai = client("sk-test-fixtures");
      const stream = openai.responses.stream({ model: model(`fixture:${file}:0`), input: "replay" });
      const events: { type: string; sequence_number: number }[] = [];
      for await (const event of stream) events.push(event);
      const final = await stream.finalResponse();

      expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
      expect(final.status).toBe("completed");
      expect(final.output_text).toBe("Héllo 😀 wörld");
      const item = final.output[0] as { type: string; summary: { text: string }[]; content?: { text: string }[] };
      expect(item.type).toBe("reasoning");
      expect(item.summary.map((part) => part.text)).toEqual(summary);
      expect((item.content ?? []).map((part) => part.text)).toEqual(reasoning);

      const stored = await (await gatewayFetch(`${GATEWAY_URL}/responses/${final.id}`, { headers: auth })).json();
      expect(stored).toEqual((events.at(-1) as unknown as { response: unknown }).response);
      expect(foldEvents(events as unknown as StreamEvent[])).toEqual(stored);
    },
  );
});
