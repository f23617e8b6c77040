// `Idempotency-Key` on POST /v1/responses: a retry with the same key and body gets the same
// response (a stream from its start), never a second upstream call; another body is a 400; a key
// whose attempt stored nothing does not stick; keys expire.

import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { describe, expect, it } from "vitest";
import { received, routed } from "../support/chat";
import { client, model, upstream } from "../support/gateway";
import { until } from "../support/hooks";
import { collect, openStream, rest as restOf } from "../support/streams";
import { countAll, firstRow, runEverywhere } from "../support/shards";

const withKey = (key: string) => ({ headers: { "Idempotency-Key": key } });

async function storedResponses(m: string): Promise<number> {
  return countAll("SELECT count(*) AS n FROM responses WHERE model = ?", m);
}

describe("Idempotency-Key", () => {
  it("a stream retried after a dropped connection is the same response, from response.created, one upstream call", async () => {
    const openai = client("sk-test-idempotency");
    const m = model("gate:5:8");
    const key = crypto.randomUUID();
    const body = { model: m, input: "hello", stream: true } as const;

    const abort = new AbortController();
    const first = await openai.responses.create(body, { ...withKey(key), signal: abort.signal });
    const seen: ResponseStreamEvent[] = [];
    for await (const event of first) {
      seen.push(event);
      if (seen.length === 3) break; // the connection drops
    }
    abort.abort();

    const retried = await openai.responses.create(body, withKey(key));
    const { iterator, first: head } = await openStream(retried);
    expect(head).toEqual(seen[0]);
    expect(head.type).toBe("response.created");
    await upstream.release(m);
    const all = [head, ...(await restOf(iterator))];
    expect(all.slice(0, 3)).toEqual(seen);
    expect(all.map((event) => event.sequence_number)).toEqual(all.map((_, index) => index));
    expect(all.at(-1)?.type).toBe("response.completed");

    expect(await upstream.requests(m)).toHaveLength(1);
    expect(await storedResponses(m)).toBe(1);

    // Once finished, the same retry replays the recorded stream.
    const again = await collect(await openai.responses.create(body, withKey(key)));
    expect(again).toEqual(all);
    expect(await upstream.requests(m)).toHaveLength(1);
  });

  it("a JSON create retried, concurrently or once finished, returns the same response", async () => {
    const openai = client("sk-test-idempotency");
    const m = model("gate:4:3");
    const key = crypto.randomUUID();
    const body = { model: m, input: "hi", metadata: { a: "1", b: "2" } };
    const first = openai.responses.create(body, withKey(key));
    // The same body with its keys in another order is the same request.
    const second = openai.responses.create({ metadata: { b: "2", a: "1" }, input: "hi", model: m }, withKey(key));
    await upstream.release(m);
    const [a, b] = await Promise.all([first, second]);
    expect(b).toEqual(a);
    expect(a.status).toBe("completed");
    const third = await openai.responses.create(body, withKey(key));
    expect(third).toEqual(a);
    expect(await upstream.requests(m)).toHaveLength(1);
    expect(await storedResponses(m)).toBe(1);
  });

  it("concurrent identical background creates make one response", async () => {
    const openai = client("sk-test-idempotency");
    const m = model("text:2");
    const key = crypto.randomUUID();
    const results = await Promise.all(
      [0, 1, 2].map(() => openai.responses.create({ model: m, input: "x", background: true }, withKey(key))),
    );
    expect(new Set(results.map((result) => result.id)).size).toBe(1);
    await collect(await openai.responses.retrieve(results[0]?.id ?? "", { stream: true }));
    expect(await upstream.requests(m)).toHaveLength(1);
    expect(await storedResponses(m)).toBe(1);
  });

  it("refuses the same key with a different body, with a 400 the SDK does not retry", async () => {
    const openai = client("sk-test-idempotency");
    const m = model("text:1");
    const key = crypto.randomUUID();
    await openai.responses.create({ model: m, input: "one" }, withKey(key));
    await expect(openai.responses.create({ model: m, input: "two" }, withKey(key))).rejects.toMatchObject({
      status: 400,
      code: "idempotency_key_reused",
      type: "invalid_request_error",
    });
    expect(await upstream.requests(m)).toHaveLength(1);
  });

  it("keys are per tenant: another key's same Idempotency-Key is a new response", async () => {
    const key = crypto.randomUUID();
    const m = model("text:1");
    const a = await client("sk-idem-alice").responses.create({ model: m, input: "x" }, withKey(key));
    const b = await client("sk-idem-bob").responses.create({ model: m, input: "x" }, withKey(key));
    expect(b.id).not.toBe(a.id);
  });

  it("an attempt that stored nothing does not hold the key: invalid bodies and upstream refusals", async () => {
    const openai = client("sk-test-idempotency");
    const key = crypto.randomUUID();
    await expect(
      openai.responses.create({ model: "m", input: "x", temperature: -1 }, withKey(key)),
    ).rejects.toMatchObject({ status: 400, param: "temperature" });
    const refused = model("status:400");
    await expect(openai.responses.create({ model: refused, input: "x" }, withKey(key))).rejects.toMatchObject({
      status: 400,
    });
    await expect(openai.responses.create({ model: refused, input: "x" }, withKey(key))).rejects.toMatchObject({
      status: 400,
    });
    expect(await upstream.requests(refused)).toHaveLength(2);
    const m = model("text:1");
    const created = await openai.responses.create({ model: m, input: "x" }, withKey(key));
    expect(created.status).toBe("completed");
  });

  it("a retry that waited for an attempt the upstream refused gets an error too, and runs the request again", async () => {
    const openai = client("sk-test-idempotency");
    const m = model("hang-headers");
    const key = crypto.randomUUID();
    const body = { model: m, input: "x" };
    const first = openai.responses.create(body, withKey(key)).catch((error: unknown) => error);
    // The attempt's row is written a second into its upstream call: the retry finds it and waits.
    await until(
      () => storedResponses(m),
      (n) => n === 1,
      "the first attempt's row",
    );
    const retry = openai.responses.create(body, withKey(key)).catch((error: unknown) => error);
    expect(await first).toMatchObject({ status: 504, code: "upstream_timeout" });
    // Not the refused attempt's failed response (a 200 the SDK takes for an answer): the key was
    // freed, so the retry ran again, and was refused in turn.
    expect(await retry).toMatchObject({ status: 504, code: "upstream_timeout" });
    expect(await upstream.requests(m)).toHaveLength(2);
  });

  it("a key expires after its window, then runs the request again", async () => {
    const openai = client("sk-test-idempotency");
    const m = model("text:1");
    const key = crypto.randomUUID();
    const first = await openai.responses.create({ model: m, input: "x" }, withKey(key));
    await runEverywhere(
      "UPDATE idempotency_keys SET expires_at = ? WHERE key = ?",
      Math.floor(Date.now() / 1000) - 1,
      key,
    );
    const second = await openai.responses.create({ model: m, input: "x" }, withKey(key));
    expect(second.id).not.toBe(first.id);
    expect(await upstream.requests(m)).toHaveLength(2);
    const row = await firstRow(
      "SELECT response_id, expires_at - created_at AS window FROM idempotency_keys WHERE key = ?",
      key,
    );
    expect(row).toEqual({ response_id: second.id, window: 24 * 60 * 60 });
  });

  it("a retry during a long create-time compaction joins its attempt, past the takeover window", async () => {
    const openai = client("sk-test-idempotency");
    const m = routed("summarize:held");
    const key = crypto.randomUUID();
    const body = {
      model: m.model,
      input: [
        { role: "user" as const, content: "Plan a trip to Lyon." },
        { role: "assistant" as const, content: "Day 1: Vieux Lyon. Day 2: Fourvière." },
        { role: "user" as const, content: "Add a museum." },
      ],
      context_management: [{ type: "compaction", compact_threshold: 10 }],
    } as never;
    const first = openai.responses.create(body, withKey(key));
    // The summary call is held. It is part of the upstream call, so the response's row is written a
    // second into it; the claim then ages past the takeover window, as in a compaction of minutes.
    await until(
      () => received(m),
      (sent) => sent.length === 1,
      "the summary call",
    );
    await until(
      () => firstRow<{ id: string }>("SELECT id FROM responses WHERE model = ?", m.model),
      (row) => row !== null,
      "the response's row",
    );
    await runEverywhere("UPDATE idempotency_keys SET created_at = created_at - 3600 WHERE key = ?", key);
    const retry = openai.responses.create(body, withKey(key));
    await upstream.release(m.upstream);
    const [a, b] = await Promise.all([first, retry]);
    expect(b.id).toBe(a.id);
    expect(a.output.map((item) => item.type)).toEqual(["compaction", "message"]);
    // One summary call and one answer: the retry made nothing.
    expect(await received(m)).toHaveLength(2);
  });

  it("rejects an empty or oversized key, and one with bytes that are not UTF-8", async () => {
    const openai = client("sk-test-idempotency");
    // Over HTTP, `k\xe9` and `k\xe8` (Latin-1, as Node's fetch sends `ké`) both arrive as `k\ufffd`.
    for (const key of [" ", "k".repeat(256), "k\ufffd"])
      await expect(openai.responses.create({ model: model("text:1"), input: "x" }, withKey(key))).rejects.toMatchObject(
        {
          status: 400,
          code: "invalid_idempotency_key",
        },
      );
  });
});
