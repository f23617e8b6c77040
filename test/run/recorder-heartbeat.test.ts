// A background run's row says `queued` until a heartbeat: the recorder sends one a moment after the
// run starts (`heartbeatIn`), so the list and its status filter, which read D1, see it running well
// before the flush interval. And a write the gateway itself refuses (a tenant move) is not retried.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Db, Statement } from "../../src/db/client";
import { wrappedApiError } from "../../src/db/failures";
import { encodeRow } from "../../src/db/responses";
import { ApiError } from "../../src/errors";
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

describe("a write the gateway refuses itself", () => {
  it("is not retried or reported as D1's: a tenant move's 503 from inside the write ends the write at once", async () => {
    const id = newResponseId();
    const refusal = new ApiError(503, "The gateway is moving this account's storage; try again.", {
      type: "server_error",
      code: "storage_unavailable",
    });
    let attempts = 0;
    const reported: string[] = [];
    const recorder = new ResponseRecorder({
      // What Drizzle hands back when the first-write hook throws: the query error, the answer as its cause.
      db: {
        batch: () => {
          attempts += 1;
          return Promise.reject(new Error("Failed query: insert", { cause: refusal }));
        },
      } as unknown as Db,
      responseId: id,
      tenantId: "t_move",
      flushIntervalMs: 600_000,
      flushChars: 1024 * 1024,
      conversationId: null,
      status: () => "in_progress",
      onError: (what) => reported.push(what),
    });
    const failed = await recorder.write([{} as Statement]).catch((error: unknown) => error);
    expect(wrappedApiError(failed)).toBe(refusal);
    expect({ attempts, reported }).toEqual({ attempts: 1, reported: [] });
  });
});
