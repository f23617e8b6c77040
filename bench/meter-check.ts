// Checks the cost meter and its pricing without a gateway: the shim (bench/meter-shim.ts) around fake
// bindings and a fake Durable Object whose clock and storage counters the test drives, and the arithmetic of
// bench/cost.ts. Run by `node bench/self-check.ts` (node:test).

import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { priceOf, unitsPerResponse, type CostUnits } from "#bench/cost";
import { statementsPerResponse } from "#bench/metering";
import {
  meterDurableObject,
  meteredEnv,
  meterWorker,
  snapshot,
  statementLabel,
  type MeterSnapshot,
} from "#bench/meter-shim";

// workerd's native pass-through; Node's TransformStream does the same job here.
(globalThis as { IdentityTransformStream?: unknown }).IdentityTransformStream = TransformStream;

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
void test("statements are labelled by verb and first table", () => {
  assert.equal(statementLabel("INSERT OR REPLACE INTO events (seq, part, frame) VALUES (?, 0, ?)"), "INSERT events");
  assert.equal(statementLabel("  select value from state where key = ?"), "SELECT state");
  assert.equal(statementLabel("CREATE TABLE IF NOT EXISTS events (seq INTEGER)"), "CREATE events");
  assert.equal(statementLabel('delete from "responses" where "id" in (?, ?)'), "DELETE responses");
  assert.equal(statementLabel('update "responses" set "status" = ?'), "UPDATE responses");
  assert.equal(statementLabel("PRAGMA table_list"), "PRAGMA");
});

void test("D1 rows come from every result's meta, batches included, and the binding stays the same object", async () => {
  // The binding's transport, as each of its sessions has it (a method of the session class).
  const send = (endpoint: string, query: string | string[]) => {
    void endpoint;
    const one = (rows: number) => ({
      success: true,
      meta: { rows_read: rows, rows_written: 2 * rows, size_after: 8192 },
    });
    return Promise.resolve(Array.isArray(query) ? query.map((_, i) => one(i + 1)) : one(5));
  };
  const db = {
    alwaysPrimarySession: { _send: send },
    prepare: () => ({}),
    batch: () => Promise.resolve([]),
    withSession: () => ({ _send: send }),
  };
  const env = meteredEnv({ DB: db, NAME: "x" });
  assert.equal(env.DB, db, "the D1 binding is the same object");
  assert.equal(env.NAME, "x");
  assert.equal(meteredEnv({ DB: db }).DB, db);
  const before = snapshot();
  await (db.alwaysPrimarySession._send as (e: string, q: unknown) => Promise<unknown>)(
    "/query",
    "SELECT 1 FROM responses",
  );
  await (db.alwaysPrimarySession._send as (e: string, q: unknown) => Promise<unknown>)("/query", [
    "INSERT INTO responses VALUES (?)",
    "INSERT INTO response_items VALUES (?)",
  ]);
  const other = db.withSession() as { _send: (e: string, q: unknown) => Promise<unknown> };
  await other._send("/query", "DELETE FROM responses");
  const after = snapshot();
  assert.equal(after.d1.metered, true);
  assert.equal(after.d1.rowsRead - before.d1.rowsRead, 5 + 1 + 2 + 5);
  assert.equal(after.d1.rowsWritten - before.d1.rowsWritten, 10 + 2 + 4 + 10);
  assert.equal(after.d1.sizeAfter, 8192);
  const perStatement = statementsPerResponse(before.d1Statements, after.d1Statements, 1);
  assert.deepEqual(perStatement["INSERT response_items"], { statements: 1, rowsRead: 2, rowsWritten: 4 });
  assert.deepEqual(perStatement["DELETE responses"], { statements: 1, rowsRead: 5, rowsWritten: 10 });
});

void test("each fetch or RPC call on a stub is one Durable Object request; reading a property is none", async () => {
  // An RPC method is itself a stub: any property of it, `apply` and `call` included, is another remote method.
  const remote = (run: (value: number) => Promise<number>) =>
    new Proxy(run, {
      get: (_target, property) => () => Promise.reject(new Error(`remote method ${String(property)}`)),
    });
  const stub = {
    id: "abc",
    fetch: () => Promise.resolve(new Response("ok")),
    start: remote((value) => Promise.resolve(value * 2)),
  };
  const namespace = {
    idFromName: (_name: string) => "abc",
    get: (_id?: string) => stub,
    getByName: (_name: string) => stub,
    newUniqueId: () => "n",
  };
  const env = meteredEnv({ RUN: namespace });
  const before = snapshot();
  const run = env.RUN.getByName("resp_1");
  assert.equal(run.id, "abc");
  assert.equal((run as { then?: unknown }).then, undefined, "a stub is not thenable");
  assert.equal(await run.start(21), 42);
  await run.fetch();
  await env.RUN.get().fetch();
  assert.equal(env.RUN.newUniqueId(), "n");
  const after = snapshot();
  assert.equal(after.durableObjects.rpcCalls - before.durableObjects.rpcCalls, 1);
  assert.equal(after.durableObjects.fetches - before.durableObjects.fetches, 2);
});

/** A cursor whose counters the test moves, as workerd's do while a SELECT is iterated. */
class FakeCursor {
  rowsRead = 0;
  rowsWritten = 0;
  readonly rows: Record<string, unknown>[];
  constructor(rows: Record<string, unknown>[] = []) {
    this.rows = rows;
  }
  *[Symbol.iterator]() {
    for (const row of this.rows) {
      this.rowsRead += 1;
      yield row;
    }
  }
}

function fakeState(id: string) {
  const tables: Record<string, number> = { events: 0, state: 0 };
  let size = 0;
  const state = {
    id: { toString: () => id },
    waitUntil: (promise: Promise<unknown>) => void promise.catch(() => undefined),
    blockConcurrencyWhile: (callback: () => Promise<unknown>) => callback(),
    storage: {
      sql: {
        get databaseSize() {
          return size;
        },
        exec(query: string, ...bindings: unknown[]) {
          if (query.startsWith("SELECT name FROM sqlite_master"))
            return new FakeCursor(Object.keys(tables).map((name) => ({ name })));
          const count = /count\(\*\) AS n FROM "(\w+)"/.exec(query);
          if (count) return new FakeCursor([{ n: tables[count[1]!] }]);
          if (query.startsWith("INSERT INTO events")) {
            const cursor = new FakeCursor();
            cursor.rowsWritten = 2 * bindings.length;
            tables.events! += bindings.length;
            size += 4096;
            return cursor;
          }
          return new FakeCursor([{ value: 1 }, { value: 2 }, { value: 3 }]);
        },
      },
      setAlarm: (_at: number) => Promise.resolve(),
      deleteAlarm: () => Promise.resolve(),
      deleteAll: () => {
        tables.events = 0;
        tables.state = 0;
        size = 0;
        return Promise.resolve();
      },
    },
  };
  return state;
}

void test("a Durable Object is active while it handles a call, runs waitUntil work or streams a body; idle time is free", async () => {
  const clock = mock.timers;
  clock.enable({ apis: ["Date"], now: 1_000_000 });
  try {
    let release: () => void = () => undefined;
    class Run {
      ctx: ReturnType<typeof fakeState>;
      constructor(ctx: ReturnType<typeof fakeState>, _env: object) {
        this.ctx = ctx;
      }
      async work(ms: number) {
        await Promise.resolve();
        clock.tick(ms);
        return "done";
      }
      background() {
        this.ctx.waitUntil(new Promise<void>((resolve) => (release = resolve)));
        return "started";
      }
      fetch() {
        const body = new ReadableStream({
          pull(controller) {
            clock.tick(50);
            controller.enqueue(new TextEncoder().encode("frame"));
            controller.close();
          },
        });
        return new Response(body, { status: 201, headers: { "x-run": "1" } });
      }
      sync() {
        return 7;
      }
    }
    const Metered = meterDurableObject(Run);
    assert.equal(Metered.name, "Run");
    const before = snapshot();
    const run: Run = new Metered(fakeState("obj-activity"), {});
    assert.ok(run instanceof Run, "the metered class is a subclass");
    await tick();
    assert.equal(await run.work(200), "done");
    clock.tick(10_000); // idle: not billed
    await Promise.all([run.work(300), run.work(100)]); // overlapping calls count once
    assert.equal(run.sync(), 7);
    assert.equal(run.background(), "started");
    clock.tick(1_000);
    release();
    await tick();
    const response = run.fetch();
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("x-run"), "1");
    clock.tick(5_000); // a body nobody reads yet keeps the object busy
    assert.equal(await response.text(), "frame");
    await tick();
    const after = snapshot();
    assert.equal(after.durableObjects.busy, 0);
    assert.equal(after.durableObjects.activeMs - before.durableObjects.activeMs, 200 + 400 + 1_000 + 5_050);
    assert.equal(after.durableObjects.constructions - before.durableObjects.constructions, 1);
  } finally {
    clock.reset();
  }
});

void test("SQLite rows are read from each cursor once consumed; setAlarm is a row, deleteAll is shown apart", async () => {
  class Run {
    ctx: ReturnType<typeof fakeState>;
    constructor(ctx: ReturnType<typeof fakeState>, _env: object) {
      this.ctx = ctx;
    }
    async write(n: number) {
      this.ctx.storage.sql.exec("INSERT INTO events (seq) VALUES (?)", ...Array.from({ length: n }, (_, i) => i));
      const rows = [...(this.ctx.storage.sql.exec("SELECT value FROM state") as unknown as Iterable<unknown>)];
      await this.ctx.storage.setAlarm(Date.now() + 1000);
      return rows.length;
    }
    lazy() {
      return this.ctx.storage.sql.exec("SELECT value FROM state") as unknown as Iterable<unknown>;
    }
    async wipe() {
      await this.ctx.storage.deleteAll();
    }
  }
  const Metered = meterDurableObject(Run);
  const before = snapshot();
  const run: Run = new Metered(fakeState("obj-rows"), {});
  assert.equal(await run.write(3), 3);
  const mid = snapshot();
  assert.equal(mid.durableObjects.sqlRowsWritten - before.durableObjects.sqlRowsWritten, 6);
  assert.equal(mid.durableObjects.sqlRowsRead - before.durableObjects.sqlRowsRead, 3);
  assert.equal(mid.durableObjects.setAlarms - before.durableObjects.setAlarms, 1);
  assert.equal(mid.durableObjects.storageBytes - before.durableObjects.storageBytes, 4096);
  assert.ok(mid.durableObjects.alarmsPending >= 1);
  // A cursor iterated after the call returned still counts, at the next reading.
  const cursor = run.lazy();
  await tick();
  for (const _row of cursor) void _row;
  const late = snapshot();
  assert.equal(late.durableObjects.sqlRowsRead - mid.durableObjects.sqlRowsRead, 3);
  await run.wipe();
  const after = snapshot();
  assert.equal(after.durableObjects.deleteAllRows - late.durableObjects.deleteAllRows, 3);
  assert.equal(after.durableObjects.storageBytes - before.durableObjects.storageBytes, 0);
  assert.equal(
    after.durableObjects.sqlRowsRead - late.durableObjects.sqlRowsRead,
    0,
    "counting rows for deleteAll is not billed",
  );
  assert.deepEqual(statementsPerResponse(before.sqlStatements, after.sqlStatements, 1)["INSERT events"], {
    statements: 1,
    rowsRead: 0,
    rowsWritten: 6,
  });
});

void test("the Worker's handler counts its requests, answers the meter's path and gets the metered env", async () => {
  const seen: object[] = [];
  const handler = meterWorker({
    fetch: (_request, env) => {
      seen.push(env);
      return new Response("gateway");
    },
  });
  const env = { RUN: { idFromName: () => "x", get: () => ({}) } };
  const before = snapshot();
  const answer = (await handler.fetch!(new Request("http://w/v1/responses", { method: "POST" }), env, {})) as Response;
  assert.equal(await answer.text(), "gateway");
  assert.notEqual(seen[0], env, "the handler gets the metered env");
  assert.equal(seen[0], meteredEnv(env), "the same metered env for the same env");
  const read = (await handler.fetch!(new Request("http://w/__meter"), env, {})) as Response;
  const reading = (await read.json()) as MeterSnapshot;
  assert.equal(reading.worker.requests - before.worker.requests, 1, "reading the meter is not a request");
});

const units = (overrides: Partial<CostUnits>): CostUnits => ({
  responses: 1,
  workerRequests: 0,
  workerCpuMs: 0,
  doFetches: 0,
  doRpcCalls: 0,
  doAlarms: 0,
  doInstances: 0,
  doActiveSeconds: 0,
  doRowsRead: 0,
  doSqlRowsWritten: 0,
  doAlarmWrites: 0,
  doDeletedRows: 0,
  doKvRowsRead: 0,
  doKvRowsWritten: 0,
  doStorageGbMonths: 0,
  doBytesLeft: 0,
  d1RowsRead: 0,
  d1RowsWritten: 0,
  d1Bytes: 0,
  ...overrides,
});

void test("prices: each unit at its list price per million responses", () => {
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≈ ${b}`);
  close(priceOf(units({ workerRequests: 1 })).total, 0.3);
  close(priceOf(units({ workerCpuMs: 10 })).total, 0.2);
  close(priceOf(units({ doFetches: 1, doAlarms: 1 })).total, 0.3);
  // 10 s active × 0.128 GB × $12.50 per million GB-s = $16 per million responses (the estimate).
  close(priceOf(units({ doActiveSeconds: 10 })).total, 16);
  close(priceOf(units({ doRowsRead: 1000 })).total, 1);
  close(priceOf(units({ doSqlRowsWritten: 200, doAlarmWrites: 2 })).total, 202);
  close(priceOf(units({ doDeletedRows: 500 })).total, 0);
  close(
    priceOf(units({ d1RowsRead: 1000, d1RowsWritten: 10, sweep: { responses: 5, d1RowsRead: 0, d1RowsWritten: 4 } }))
      .total,
    15,
  );
  // 40,000 bytes kept 30 days: 4e-5 GB-month × $0.75 × 1e6.
  close(priceOf(units({ d1Bytes: 40_000 })).total, 30);
  // DO storage left behind is kept 30 days; held during the run, for the time it was held.
  close(priceOf(units({ doBytesLeft: 1e6 })).total, 200);
  close(priceOf(units({ doStorageGbMonths: 1e-6 })).total, 0.2);
  close(priceOf(units({ d1Bytes: Number.NaN })).total, 0);
  assert.equal(priceOf(units({})).lines.length, 12);
});

void test("units per response are a cell's meter difference divided by its responses", () => {
  const reading = (scale: number): MeterSnapshot => ({
    at: 0,
    worker: { requests: 10 * scale, scheduled: 0 },
    d1: { metered: true, queries: 0, rowsRead: 4 * scale, rowsWritten: 20 * scale, sizeAfter: null, durationMs: 0 },
    d1Statements: {},
    durableObjects: {
      fetches: 10 * scale,
      rpcCalls: 0,
      alarms: 10 * scale,
      constructions: 10 * scale,
      objects: 10 * scale,
      activeMs: 100_000 * scale,
      busy: 0,
      sqlRowsRead: 0,
      sqlRowsWritten: 2_000 * scale,
      setAlarms: 20 * scale,
      deleteAllRows: 0,
      kvRowsRead: 0,
      kvRowsWritten: 0,
      storageBytes: 0,
      storageByteMs: 10 * 1e9 * 2_592_000 * scale,
      alarmsPending: 0,
      nextAlarmAt: null,
    },
    sqlStatements: {},
  });
  const u = unitsPerResponse(reading(1), reading(2), {
    responses: 10,
    cpuMs: 50,
    d1BytesBefore: 0,
    d1BytesAfter: 300_000,
  })!;
  assert.equal(u.workerRequests, 1);
  assert.equal(u.workerCpuMs, 5);
  assert.equal(u.doActiveSeconds, 10);
  assert.equal(u.doSqlRowsWritten, 200);
  assert.equal(u.doAlarmWrites, 2);
  assert.equal(u.d1RowsWritten, 2);
  assert.equal(u.d1Bytes, 30_000);
  assert.ok(Math.abs(u.doStorageGbMonths - 1e-3) < 1e-12);
  assert.equal(unitsPerResponse(reading(1), reading(2), { responses: 0, cpuMs: 0 }), undefined);
});
