// A stored foreground run whose Worker died after its first event, as the sweep finds it: a row with
// one recorded batch and no heartbeat since. Used by the observability and metrics tests.

import { env } from "cloudflare:workers";
import { tenantDb } from "../../src/db/shards";
import { encodeRow } from "../../src/db/responses";
import { validateCreateRequest } from "../../src/responses/create-request";
import { newResponseId } from "../../src/responses/ids";
import { StreamNormalizer } from "../../src/responses/normalizer";
import { echoOf, newResponseObject } from "../../src/responses/response-object";
import { framesOf, ResponseRecorder } from "../../src/stream/recorder";
import { model } from "./gateway";
import { until } from "./hooks";
import { testRow } from "./response-row";
import { tenantD1 } from "./shards";

/**
 * Leaves such a run of `tenant` (its heartbeat already two minutes old); returns its id. `asked`:
 * the client's `store` (false: a store:false create recorded under RECORD_STORE_FALSE, its row kept).
 */
export async function abandonedRun(tenant: string, asked: { store: boolean } = { store: true }): Promise<string> {
  const request = validateCreateRequest({ model: model("text:1"), input: "x", stream: true, store: asked.store });
  const id = newResponseId();
  const createdAt = Math.floor(Date.now() / 1000);
  const base = newResponseObject(request, { id, createdAt }, "in_progress");
  const db = await tenantDb(env, tenant);
  const d1 = await tenantD1(tenant);
  const recorder = new ResponseRecorder({
    db,
    responseId: id,
    tenantId: tenant,
    flushIntervalMs: 60_000,
    flushChars: 1,
    conversationId: null,
    onError: (what, error) => {
      throw new Error(`${what}: ${String(error)}`);
    },
  });
  await recorder.start(encodeRow(testRow({ id, tenantId: tenant, model: request.model, createdAt, snapshot: base })));
  const normalizer = new StreamNormalizer({
    echo: echoOf(request, { id, createdAt }),
    initial: base,
    background: false,
  });
  recorder.record(framesOf(normalizer.accept({ type: "response.created", response: { ...base } })));
  await until(
    () => d1.prepare("SELECT event_count FROM responses WHERE id = ?").bind(id).first<number>("event_count"),
    (count) => count === 1,
    "the batch in D1",
  );
  await recorder.stop();
  // Stands in for the staleness window passing: its last heartbeat moves two minutes back.
  await d1.prepare("UPDATE responses SET updated_at = updated_at - 120 WHERE id = ?").bind(id).run();
  return id;
}
