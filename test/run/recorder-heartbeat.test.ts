// A background run's row says `queued` until a heartbeat: the recorder sends one a moment after the
// run starts (`heartbeatIn`), so the list and its status filter, which read D1, see it running well
// before the flush interval.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { encodeRow } from "../../src/db/responses";
import { tenantDb } from "../../src/db/shards";
import { validateCreateRequest } from "../../src/responses/create-request";
import { newResponseId } from "../../src/responses/ids";
import { newResponseObject } from "../../src/responses/response-object";
import { ResponseRecorder } from "../../src/stream/recorder";
import { until } from "../support/hooks";
import { testRow } from "../support/response-row";
import { tenantOf } from "../support/run-object";
import { firstRow } from "../support/shards";

const statusOf = async (id: string) =>
  (await firstRow<{ status: string; updated_at: number }>("SELECT status, updated_at FROM responses WHERE id = ?", id))
    ?.status;

async function queuedRun(): Promise<{ id: string; recorder: ResponseRecorder }> {
  const id = newResponseId();
  const tenantId = await tenantOf("sk-test-recorder-heartbeat");
  let status = "queued";
  const recorder = new ResponseRecorder({
    db: await tenantDb(env, tenantId),
    responseId: id,
    tenantId,
    // No timed flush within the test: only the early heartbeat can change the row.
    flushIntervalMs: 600_000,
    flushChars: 1024 * 1024,
    conversationId: null,
    status: () => status,
    onError: () => undefined,
  });
  const snapshot = newResponseObject(validateCreateRequest({ model: "m", input: "x" }), { id, createdAt: 1 }, "queued");
  await recorder.start(
    encodeRow(testRow({ id, tenantId, model: "m", createdAt: 1, status: "queued", background: true, snapshot })),
  );
  status = "in_progress";
  return { id, recorder };
}

describe("a background run's early heartbeat", () => {
  it("tells D1 the run is in progress soon after it starts", async () => {
    const { id, recorder } = await queuedRun();
    expect(await statusOf(id)).toBe("queued");
    recorder.heartbeatIn(20);
    await until(
      () => statusOf(id),
      (status) => status === "in_progress",
      "the row to say in_progress",
    );
    await recorder.stop();
  });
});
