import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runBatch } from "../../src/db/client";
import {
  deleteResponse,
  encodeFinal,
  encodeRow,
  finalStatements,
  insertResponseStatements,
} from "../../src/db/responses";
import { tenantDb } from "../../src/db/shards";
import { validateCreateRequest } from "../../src/responses/create-request";
import { newId, newResponseId } from "../../src/responses/ids";
import { newResponseObject } from "../../src/responses/response-object";
import { client, model, untilOutput, upstream } from "../support/gateway";
import { randomText } from "../support/random-text";
import { until } from "../support/hooks";
import { openStream, readUntil, rest } from "../support/streams";
import { countAll, firstRow } from "../support/shards";

async function rowsOwnedBy(id: string): Promise<number> {
  const counts = await Promise.all([
    countAll("SELECT count(*) AS n FROM responses WHERE id = ?", id),
    countAll("SELECT count(*) AS n FROM response_items WHERE response_id = ?", id),
    countAll("SELECT count(*) AS n FROM response_events WHERE response_id = ?", id),
  ]);
  return counts.reduce((sum, n) => sum + n, 0);
}

describe("DELETE /v1/responses/{id}", () => {
  it("deletes a response and every row it owns; afterwards it is unknown everywhere", async () => {
    const openai = client();
    const response = await openai.responses.create({ model: model("text:2"), input: "x" });
    expect(await rowsOwnedBy(response.id)).toBeGreaterThan(0);
    const deleted: unknown = await openai.responses.delete(response.id);
    expect(deleted).toEqual({ id: response.id, object: "response.deleted", deleted: true });
    expect(await rowsOwnedBy(response.id)).toBe(0);
    await expect(openai.responses.retrieve(response.id)).rejects.toMatchObject({ status: 404 });
    await expect(openai.responses.retrieve(response.id, { stream: true })).rejects.toMatchObject({ status: 404 });
    await expect(openai.responses.inputItems.list(response.id)).rejects.toMatchObject({ status: 404 });
    await expect(openai.responses.delete(response.id)).rejects.toMatchObject({ status: 404 });
  });
});

describe("DELETE /v1/responses/{id} of a running foreground response", () => {
  it("stops a stream's run: the upstream call is closed and the client is told its end was not recorded", async () => {
    const openai = client("sk-test-delete-running-stream");
    // Held after its third event (the mock pings meanwhile): it only ends if the gateway stops it.
    const m = model("gate:3:6");
    try {
      const { iterator, id } = await openStream(await openai.responses.create({ model: m, input: "x", stream: true }));
      await until(
        () => countAll("SELECT count(*) AS n FROM responses WHERE id = ?", id),
        (n) => n > 0,
        "the running response's row",
      );
      expect(await openai.responses.delete(id)).toEqual({ id, object: "response.deleted", deleted: true });
      await until(
        () => upstream.closedEarly(m),
        (closed) => closed > 0,
        "the upstream call to close",
      );
      const failure = await rest(iterator).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toMatchObject({ error: { code: "response_not_recorded" } });
      expect(await rowsOwnedBy(id)).toBe(0);
    } finally {
      await upstream.release(m);
    }
  });

  it("stops a JSON create's run: it answers cancelled with what it had, and keeps nothing", async () => {
    const openai = client("sk-test-delete-running-json");
    const m = model("gate:3:6");
    try {
      const creating = openai.responses.create({ model: m, input: "x" });
      const row = await until(
        () => firstRow<{ id: string }>("SELECT id FROM responses WHERE model = ?", m),
        (found) => found !== null,
        "the running response's row",
      );
      const id = row!.id;
      await openai.responses.delete(id);
      await until(
        () => upstream.closedEarly(m),
        (closed) => closed > 0,
        "the upstream call to close",
      );
      expect(await creating).toMatchObject({ id, status: "cancelled" });
      expect(await rowsOwnedBy(id)).toBe(0);
    } finally {
      await upstream.release(m);
    }
  });
});

describe("DELETE /v1/responses/{id} under a reader of the running response", () => {
  it("a background response's own stream and a reader resuming it are told it was deleted, not cut off", async () => {
    const openai = client("sk-test-delete-background-readers");
    const m = model("gate:6:10");
    try {
      const { iterator, id } = await openStream(
        await openai.responses.create({ model: m, input: "x", background: true, stream: true }),
      );
      await untilOutput(openai, id, "w0 w1 ");
      const reader = (await openai.responses.retrieve(id, { stream: true, starting_after: 2 }))[Symbol.asyncIterator]();
      // The reader has caught up with the run (its first delta) before the delete.
      await readUntil(reader, (event) => event.type === "response.output_text.delta");
      expect(await openai.responses.delete(id)).toEqual({ id, object: "response.deleted", deleted: true });
      for (const stream of [iterator, reader]) {
        const failure = await rest(stream).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failure).toMatchObject({ error: { code: "response_not_recorded", type: "server_error" } });
      }
    } finally {
      await upstream.release(m);
    }
  });

  it("a reader following a foreground response, and an idempotent retry's stream, are told it was deleted", async () => {
    const openai = client("sk-test-delete-foreground-readers");
    const m = model("gate:3:6");
    const idempotency = { headers: { "Idempotency-Key": crypto.randomUUID() } };
    try {
      const body = { model: m, input: "x", stream: true } as const;
      const { iterator, id } = await openStream(await openai.responses.create(body, idempotency));
      await until(
        () => countAll("SELECT count(*) AS n FROM responses WHERE id = ?", id),
        (n) => n > 0,
        "the running response's row",
      );
      // Both follow D1, where the held run has recorded nothing past its row yet.
      const readers = [
        await openai.responses.retrieve(id, { stream: true }),
        await openai.responses.create(body, idempotency),
      ].map((stream) => stream[Symbol.asyncIterator]());
      const reading = readers.map((reader) =>
        rest(reader).then(
          () => undefined,
          (error: unknown) => error,
        ),
      );
      expect(await openai.responses.delete(id)).toEqual({ id, object: "response.deleted", deleted: true });
      for (const failure of await Promise.all(reading))
        expect(failure).toMatchObject({ error: { code: "response_not_recorded", type: "server_error" } });
      await rest(iterator).catch(() => undefined);
    } finally {
      await upstream.release(m);
    }
  });
});

describe("a run's end written after its response was deleted", () => {
  it("writes nothing: an output too large for the row leaves no parts in blobs", async () => {
    // A run's end races its delete: a foreground run notices only at its next heartbeat.
    const tenantId = `t_delete_race_${crypto.randomUUID()}`;
    const db = await tenantDb(env, tenantId);
    const id = newResponseId();
    const createdAt = Math.floor(Date.now() / 1000);
    const request = validateCreateRequest({ model: "race", input: "x" });
    const snapshot = newResponseObject(request, { id, createdAt }, "in_progress");
    const encoded = encodeRow({
      ...{ id, tenantId, apiKeyId: null, status: "in_progress", model: "race", background: false, store: true },
      ...{ createdAt, previousResponseId: null, conversationId: null, metadata: {}, snapshot, input: [] },
    });
    await runBatch(db, insertResponseStatements(db, encoded));
    expect(await deleteResponse(db, tenantId, id)).toBe(true);
    // Random text: even compressed, larger than a value kept in its row.
    const text = randomText(900_000);
    const output = [
      {
        id: newId("msg"),
        type: "message" as const,
        role: "assistant" as const,
        status: "completed" as const,
        content: [{ type: "output_text" as const, text, annotations: [] }],
      },
    ];
    const final = { ...snapshot, status: "completed" as const, output, instructions: text };
    await runBatch(
      db,
      finalStatements(db, encodeFinal({ responseId: id, tenantId, snapshot: final, eventCount: 0, tail: [] })),
    );
    expect(await countAll("SELECT count(*) AS n FROM blobs WHERE owner_id = ?", id)).toBe(0);
    expect(await countAll("SELECT count(*) AS n FROM responses WHERE id = ?", id)).toBe(0);
  });
});
