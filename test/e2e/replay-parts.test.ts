// Replay of a batch of events split over more parts than a page of the replay reads (issue 18 item
// 16): the batch is read whole however many parts it has, alone or after other batches, in the
// current layout (compressed parts) and the legacy one (text parts). A real batch reaches that many
// parts only past ~15 MB compressed, so the rows are written here directly, in small parts; the
// replay joins parts the same way whatever their size. The events route's `order=desc` reads the
// same rows from the end back.

import { env } from "cloudflare:workers";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
import { compressEvents } from "../../src/db/event-batches";
import { splitBytes } from "../../src/db/large-values";
import { client, gatewayFetch, GATEWAY_URL, model } from "../support/gateway";
import { collect } from "../support/streams";

const KEY = "sk-test-replay-parts";
/** More parts than a replay page holds (8 rows a page; legacy pages hold 64). */
const MANY_PARTS = 11;
/** Exactly two full pages of parts. */
const TWO_PAGES_OF_PARTS = 16;
const MANY_LEGACY_PARTS = 70;

/** A completed stored response and the events its client received. */
async function completed(words: number): Promise<{ id: string; seen: ResponseStreamEvent[] }> {
  const seen = await collect(
    await client(KEY).responses.create({ model: model(`text:${words}`), input: "x", stream: true }),
  );
  expect(seen.at(-1)?.type).toBe("response.completed");
  const first = seen[0];
  return { id: first?.type === "response.created" ? first.response.id : "", seen };
}

const frameOf = (event: ResponseStreamEvent) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

/**
 * Rewrites the response's recorded events as batch rows: events before `split` as one single-part
 * batch (when `split` > 0), the rest as one batch cut into `parts` parts. The row's tail is cleared.
 */
async function storeAsParts(id: string, seen: ResponseStreamEvent[], split: number, parts: number): Promise<void> {
  const tenant = await env.DB.prepare("SELECT tenant_id FROM responses WHERE id = ?")
    .bind(id)
    .first<string>("tenant_id");
  const statements = [
    env.DB.prepare("DELETE FROM response_event_batches WHERE response_id = ?").bind(id),
    env.DB.prepare("UPDATE responses SET events_tail = NULL, tail_seq = NULL WHERE id = ?").bind(id),
  ];
  const insert = (firstSeq: number, part: number, lastSeq: number, data: Uint8Array) =>
    env.DB.prepare(
      "INSERT INTO response_event_batches (response_id, tenant_id, first_seq, part, last_seq, data) VALUES (?, ?, ?, ?, ?, ?)",
    ).bind(id, tenant, firstSeq, part, lastSeq, data);
  const recorded = (events: ResponseStreamEvent[]) =>
    compressEvents(events.map((event) => ({ seq: event.sequence_number, frame: frameOf(event), at: Date.now() })));
  if (split > 0) statements.push(insert(0, 0, split - 1, recorded(seen.slice(0, split))));
  const big = recorded(seen.slice(split));
  const pieces = splitBytes(big, Math.ceil(big.byteLength / parts));
  expect(pieces).toHaveLength(parts);
  pieces.forEach((piece, part) => statements.push(insert(split, part, seen.length - 1, piece)));
  await env.DB.batch(statements);
}

/** Rewrites the response as a legacy one: its events as `response_events` text rows, the last batch in `parts` parts. */
async function storeAsLegacyParts(id: string, seen: ResponseStreamEvent[], split: number, parts: number) {
  const statements = [
    env.DB.prepare("DELETE FROM response_event_batches WHERE response_id = ?").bind(id),
    env.DB.prepare("UPDATE responses SET events_tail = NULL, tail_seq = NULL, legacy = 1 WHERE id = ?").bind(id),
  ];
  const insert = (firstSeq: number, part: number, lastSeq: number, frames: string) =>
    env.DB.prepare(
      "INSERT INTO response_events (response_id, first_seq, part, last_seq, frames) VALUES (?, ?, ?, ?, ?)",
    ).bind(id, firstSeq, part, lastSeq, frames);
  if (split > 0) statements.push(insert(0, 0, split - 1, seen.slice(0, split).map(frameOf).join("")));
  const text = seen.slice(split).map(frameOf).join("");
  const size = Math.ceil(text.length / parts);
  for (let part = 0; part < parts; part++)
    statements.push(insert(split, part, seen.length - 1, text.slice(part * size, (part + 1) * size)));
  await env.DB.batch(statements);
}

const replay = async (id: string, after?: number) =>
  collect(await client(KEY).responses.retrieve(id, { stream: true, starting_after: after }));

describe("a batch split over more parts than a replay page", () => {
  it("is replayed whole when it is the response's only batch", async () => {
    const { id, seen } = await completed(40);
    await storeAsParts(id, seen, 0, MANY_PARTS);
    expect(await replay(id)).toEqual(seen);
    await storeAsParts(id, seen, 0, TWO_PAGES_OF_PARTS);
    expect(await replay(id)).toEqual(seen);
    expect(await replay(id, 20)).toEqual(seen.slice(21));
  });

  it("is replayed whole after a smaller batch that shares its first page", async () => {
    const { id, seen } = await completed(40);
    await storeAsParts(id, seen, 5, MANY_PARTS);
    expect(await replay(id)).toEqual(seen);
    expect(await replay(id, 2)).toEqual(seen.slice(3));
  });

  it("legacy rows: a batch over more parts than a legacy page is replayed whole", async () => {
    const { id, seen } = await completed(120);
    await storeAsLegacyParts(id, seen, 0, MANY_LEGACY_PARTS);
    expect(await replay(id)).toEqual(seen);
    const other = await completed(120);
    await storeAsLegacyParts(other.id, other.seen, 5, MANY_LEGACY_PARTS);
    expect(await replay(other.id)).toEqual(other.seen);
  });
});

/** Every event of the events route read from the end back with `order=desc`, `limit` at a time, as sequence numbers. */
async function readBackward(id: string, limit: number): Promise<number[]> {
  const seqs: number[] = [];
  for (let after: number | null = null; ;) {
    const response = await gatewayFetch(
      `${GATEWAY_URL}/responses/${id}/events?order=desc&limit=${limit}${after === null ? "" : `&after=${after}`}`,
      { headers: { authorization: `Bearer ${KEY}` } },
    );
    const page = await response.json<{ data: { sequence_number: number; type: string }[]; has_more: boolean }>();
    seqs.push(...page.data.map((event) => event.sequence_number));
    if (!page.has_more) return seqs;
    after = page.data.at(-1)!.sequence_number;
  }
}

describe("the events route's order=desc over batch rows and legacy rows", () => {
  it("reads every batch, split or not, from the last event back", async () => {
    const { id, seen } = await completed(40);
    const backward = seen.map((event) => event.sequence_number).reverse();
    await storeAsParts(id, seen, 5, MANY_PARTS);
    expect(await readBackward(id, 7)).toEqual(backward);
    const other = await completed(120);
    await storeAsLegacyParts(other.id, other.seen, 5, MANY_LEGACY_PARTS);
    expect(await readBackward(other.id, 100)).toEqual(other.seen.map((event) => event.sequence_number).reverse());
  });
});
