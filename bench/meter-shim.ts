// The cost meter's inside half: runs in workerd ahead of the bundled gateway (bench only, never in src/) and
// tallies what Cloudflare bills, answering `GET /__meter` with the running totals. Loaded by bench/gateway.ts.
//
// Nothing here changes what the gateway does: the D1 binding and Durable Object storage keep their own objects
// (their methods are wrapped in place, so `this`, `instanceof` and Drizzle's use of `batch`/`raw` see the real
// binding), and each Durable Object class is subclassed under its own export name. Counted:
// - Worker requests: invocations of the fetch handler (not `/__meter`), and scheduled (cron) invocations;
// - D1 rows read and written, from the `meta` of every D1 result (batches, `raw()` and `first()` included),
//   read inside the binding's session where every query's response passes;
// - Durable Object requests: each `fetch()` and each RPC method call on a stub from a namespace binding (one
//   billed request each, as Cloudflare counts them), and each `alarm()` invocation;
// - Durable Object active wall-clock per object: the union of the time it handles a call (until the promise it
//   returns settles, and until a body it returns has been read), runs a `waitUntil` promise, a
//   `blockConcurrencyWhile` callback or its constructor; the time in between is idle and hibernatable;
// - SQLite rows read and written in Durable Objects (each `sql.exec` cursor's `rowsRead`/`rowsWritten`, read
//   once the cursor is consumed), `setAlarm()` (billed as a row written), key-value API calls (a row per key),
//   and, apart, the rows `deleteAll()` removes (counted just before; it drops the database, reporting no rows);
// - Durable Object storage: `sql.databaseSize` of each object after its writes, and its integral over time
//   (byte-milliseconds) until `deleteAll()` removes it.

/** workerd's IdentityTransformStream: a native pass-through, so tracking a body costs no JavaScript per chunk. */
declare const IdentityTransformStream: new () => {
  readable: ReadableStream<Uint8Array<ArrayBuffer>>;
  writable: WritableStream<Uint8Array<ArrayBuffer>>;
};

interface SqlCursor {
  readonly rowsRead: number;
  readonly rowsWritten: number;
}
interface SqlApi {
  exec(query: string, ...bindings: unknown[]): SqlCursor;
  readonly databaseSize: number;
}
type AnyFunction = (...args: unknown[]) => unknown;
type Methods = Record<string, unknown>;
interface ObjectState {
  id: { toString(): string };
  storage: Methods & { sql?: SqlApi; kv?: Methods };
  waitUntil(promise: Promise<unknown>): void;
  blockConcurrencyWhile(callback: () => Promise<unknown>): Promise<unknown>;
}
interface D1Meta {
  duration?: number;
  rows_read?: number;
  rows_written?: number;
  size_after?: number;
}

/** Rows read and written, and statements run, under one label (`INSERT response_events`). */
interface Tally {
  statements: number;
  rowsRead: number;
  rowsWritten: number;
}

/** One Durable Object instance as the meter sees it. */
interface ObjectMeter {
  id: string;
  busy: number;
  busySince: number;
  /** Last known storage size in bytes, and since when. */
  bytes: number;
  bytesSince: number;
  /** Written since its size was last read. */
  dirty: boolean;
  alarmAt: number | null;
  sql: SqlApi | undefined;
}

export interface MeterSnapshot {
  /** The isolate's clock when the snapshot was taken (ms). */
  at: number;
  worker: { requests: number; scheduled: number };
  d1: {
    metered: boolean;
    queries: number;
    rowsRead: number;
    rowsWritten: number;
    sizeAfter: number | null;
    /** D1's own time executing the queries (`meta.duration`, ms), where the runtime reports it. */
    durationMs: number;
  };
  d1Statements: Record<string, Tally>;
  durableObjects: {
    /** Stub calls: `fetch()` and RPC method calls. */
    fetches: number;
    rpcCalls: number;
    alarms: number;
    /** Objects instantiated (constructor runs) and distinct ids seen. */
    constructions: number;
    objects: number;
    /** Summed over objects: active wall-clock, ms. */
    activeMs: number;
    /** Objects busy right now. */
    busy: number;
    sqlRowsRead: number;
    sqlRowsWritten: number;
    setAlarms: number;
    /** Rows `deleteAll()` removed (counted just before it ran). */
    deleteAllRows: number;
    kvRowsRead: number;
    kvRowsWritten: number;
    /** Storage held now (bytes summed over objects) and its integral so far (byte-ms). */
    storageBytes: number;
    storageByteMs: number;
    /** Objects with an alarm set, and the earliest time one is due. */
    alarmsPending: number;
    nextAlarmAt: number | null;
  };
  sqlStatements: Record<string, Tally>;
}

const LABELS_KEPT = 60;

const meter = {
  workerRequests: 0,
  scheduled: 0,
  d1Metered: false,
  d1: { queries: 0, rowsRead: 0, rowsWritten: 0, sizeAfter: null as number | null, durationMs: 0 },
  d1Statements: new Map<string, Tally>(),
  fetches: 0,
  rpcCalls: 0,
  alarms: 0,
  constructions: 0,
  objects: new Map<string, ObjectMeter>(),
  closedActiveMs: 0,
  sqlRowsRead: 0,
  sqlRowsWritten: 0,
  setAlarms: 0,
  deleteAllRows: 0,
  kvRowsRead: 0,
  kvRowsWritten: 0,
  closedByteMs: 0,
  sqlStatements: new Map<string, Tally>(),
};

/** Labels by statement text: a statement runs many times, its label is worked out once. */
const labels = new Map<string, string>();
const LABELS_CACHED = 500;

/** `INSERT events`, `SELECT state`, `DELETE responses`: the verb and first table of a statement. */
export function statementLabel(sql: string): string {
  let label = labels.get(sql);
  if (label === undefined) {
    const text = sql.trim().replace(/\s+/g, " ");
    const verb = (/^\w+/.exec(text)?.[0] ?? "?").toUpperCase();
    const table = /\b(?:into|update|from|table(?: if (?:not )?exists)?)\s+["`[]?([\w.]+)/i.exec(text)?.[1];
    label = table === undefined ? verb : `${verb} ${table}`;
    if (labels.size >= LABELS_CACHED) labels.clear();
    labels.set(sql, label);
  }
  return label;
}

function tally(map: Map<string, Tally>, label: string, rowsRead: number, rowsWritten: number, statements = 1): void {
  let entry = map.get(label);
  if (entry === undefined) {
    if (map.size >= LABELS_KEPT) label = "(other)";
    entry = map.get(label) ?? { statements: 0, rowsRead: 0, rowsWritten: 0 };
    map.set(label, entry);
  }
  entry.statements += statements;
  entry.rowsRead += rowsRead;
  entry.rowsWritten += rowsWritten;
}

const isFunction = (value: unknown): value is AnyFunction => typeof value === "function";
const isPromise = (value: unknown): value is Promise<unknown> =>
  typeof value === "object" && value !== null && isFunction((value as { then?: unknown }).then);

// ---- D1: every query's response passes through the binding's session (`_send`, or `_queryOrThrow` over RPC) ----

function countD1(queries: string[], answer: unknown): void {
  const results = Array.isArray(answer) ? answer : [answer];
  results.forEach((result, i) => {
    const meta = (result as { meta?: D1Meta } | undefined)?.meta;
    if (meta === undefined) return;
    const read = meta.rows_read ?? 0;
    const written = meta.rows_written ?? 0;
    meter.d1.queries += 1;
    meter.d1.rowsRead += read;
    meter.d1.rowsWritten += written;
    meter.d1.durationMs += typeof meta.duration === "number" ? meta.duration : 0;
    if (typeof meta.size_after === "number") meter.d1.sizeAfter = meta.size_after;
    tally(meter.d1Statements, statementLabel(queries[i] ?? queries[0] ?? "?"), read, written);
  });
}

const meteredSessions = new WeakSet<object>();

/** Wraps one D1 session's transport methods in place; false if this runtime's binding has neither. */
function meterSession(session: Methods): boolean {
  if (meteredSessions.has(session)) return true;
  const send = session._send;
  const query = session._queryOrThrow;
  if (!isFunction(send) && !isFunction(query)) return false;
  if (isFunction(send)) {
    session._send = async function (this: unknown, ...args: unknown[]) {
      const answer = await send.apply(this, args);
      const sql = args[1];
      countD1(Array.isArray(sql) ? (sql as string[]) : [String(sql)], answer);
      return answer;
    };
  }
  if (isFunction(query)) {
    session._queryOrThrow = async function (this: unknown, ...args: unknown[]) {
      const answer = await query.apply(this, args);
      const request = args[0] as { queries?: { sql?: string }[] } | undefined;
      countD1(
        (request?.queries ?? []).map((q) => q.sql ?? "?"),
        answer,
      );
      return answer;
    };
  }
  meteredSessions.add(session);
  return true;
}

function meterD1(binding: Methods): void {
  const primary = binding.alwaysPrimarySession;
  if (typeof primary !== "object" || primary === null || !meterSession(primary as Methods)) return;
  meter.d1Metered = true;
  const withSession = binding.withSession;
  if (isFunction(withSession) && !meteredSessions.has(binding)) {
    binding.withSession = function (this: unknown, ...args: unknown[]) {
      const session = withSession.apply(this, args) as Methods;
      meterSession(session);
      return session;
    };
    meteredSessions.add(binding);
  }
}

// ---- Durable Object requests, counted where they are made: the stubs of every namespace binding ----

function meterStub(stub: object): object {
  return new Proxy(stub, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof property !== "string" || property === "then" || !isFunction(value)) return value;
      // Reflect.apply: an RPC method is itself a stub, whose `apply` would be another remote method.
      return (...args: unknown[]) => {
        if (property === "fetch") meter.fetches += 1;
        else meter.rpcCalls += 1;
        return Reflect.apply(value, target, args);
      };
    },
  });
}

function meterNamespace(namespace: object): object {
  return new Proxy(namespace, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (!isFunction(value)) return value;
      if (property === "get" || property === "getByName" || property === "getExisting")
        return (...args: unknown[]) => meterStub(Reflect.apply(value, target, args) as object);
      return value.bind(target);
    },
  });
}

const looksLikeNamespace = (value: unknown): value is object =>
  typeof value === "object" &&
  value !== null &&
  isFunction((value as Methods).idFromName) &&
  isFunction((value as Methods).get);
const looksLikeD1 = (value: unknown): value is Methods =>
  typeof value === "object" &&
  value !== null &&
  isFunction((value as Methods).prepare) &&
  isFunction((value as Methods).batch);

/** One metered env per env the runtime hands out: identity is stable for the gateway's per-binding caches. */
const meteredEnvs = new WeakMap<object, object>();

export function meteredEnv<E extends object>(env: E): E {
  let metered = meteredEnvs.get(env);
  if (metered === undefined) {
    const copy: Record<string, unknown> = { ...(env as Record<string, unknown>) };
    for (const [name, value] of Object.entries(copy)) {
      if (looksLikeNamespace(value)) copy[name] = meterNamespace(value);
      else if (looksLikeD1(value)) meterD1(value);
    }
    metered = copy;
    meteredEnvs.set(env, metered);
  }
  return metered as E;
}

// ---- Durable Objects: activity, storage rows, storage size ----

function objectMeter(state: ObjectState): ObjectMeter {
  const id = state.id.toString();
  let entry = meter.objects.get(id);
  if (entry === undefined) {
    entry = {
      id,
      busy: 0,
      busySince: 0,
      bytes: 0,
      bytesSince: Date.now(),
      dirty: false,
      alarmAt: null,
      sql: undefined,
    };
    meter.objects.set(id, entry);
  }
  return entry;
}

function setBytes(object: ObjectMeter, bytes: number): void {
  const now = Date.now();
  meter.closedByteMs += object.bytes * (now - object.bytesSince);
  object.bytes = bytes;
  object.bytesSince = now;
}

function refreshSize(object: ObjectMeter): void {
  if (!object.dirty || object.sql === undefined) return;
  object.dirty = false;
  try {
    setBytes(object, object.sql.databaseSize);
  } catch {
    // The object's storage is gone (reset): it holds nothing.
    setBytes(object, 0);
  }
}

function enter(object: ObjectMeter): void {
  if (object.busy++ === 0) object.busySince = Date.now();
}

function leave(object: ObjectMeter): void {
  if (--object.busy > 0) return;
  object.busy = 0;
  meter.closedActiveMs += Date.now() - object.busySince;
  flushCursors();
  refreshSize(object);
}

/** Busy until `promise` settles. */
function holdUntil(object: ObjectMeter, promise: Promise<unknown>): void {
  enter(object);
  promise.then(
    () => leave(object),
    () => leave(object),
  );
}

interface OpenCursor {
  object: ObjectMeter;
  label: string;
  read: number;
  written: number;
  /** Readings in a row that found the counters unchanged. */
  idle: number;
  since: number;
}

/** Cursors whose counters may still move (a SELECT counts rows as it is iterated). */
const openCursors = new Map<SqlCursor, OpenCursor>();
let flushQueued = false;
/** A cursor that has counted nothing yet may be iterated later: kept this long before it is let go. */
const UNTOUCHED_CURSOR_MS = 1_000;

function flushCursors(): void {
  flushQueued = false;
  const now = Date.now();
  for (const [cursor, seen] of openCursors) {
    const read = cursor.rowsRead;
    const written = cursor.rowsWritten;
    if (read === seen.read && written === seen.written) {
      // Unchanged over two readings after counting something: consumed. Untouched: given a while longer.
      seen.idle += 1;
      if ((read + written > 0 && seen.idle >= 2) || now - seen.since > UNTOUCHED_CURSOR_MS) openCursors.delete(cursor);
      continue;
    }
    const dRead = read - seen.read;
    const dWritten = written - seen.written;
    meter.sqlRowsRead += dRead;
    meter.sqlRowsWritten += dWritten;
    tally(meter.sqlStatements, seen.label, dRead, dWritten, seen.read === 0 && seen.written === 0 ? 1 : 0);
    if (dWritten > 0) seen.object.dirty = true;
    seen.read = read;
    seen.written = written;
    seen.idle = 0;
  }
}

function queueFlush(): void {
  if (flushQueued) return;
  flushQueued = true;
  queueMicrotask(flushCursors);
}

const keyCount = (keys: unknown): number =>
  Array.isArray(keys) ? keys.length : typeof keys === "object" && keys !== null ? Object.keys(keys).length : 1;

/** Rows in the object's own tables, read with the unwrapped `exec` (not counted): what `deleteAll()` removes. */
function rowsHeld(exec: SqlApi["exec"]): number {
  try {
    const tables = [
      ...(exec(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE '__cf_%'",
      ) as unknown as Iterable<{ name: string }>),
    ];
    let rows = 0;
    for (const { name } of tables) {
      const [row] = [
        ...(exec(`SELECT count(*) AS n FROM "${name.replaceAll('"', '""')}"`) as unknown as Iterable<{ n: number }>),
      ];
      rows += row?.n ?? 0;
    }
    return rows;
  } catch {
    return 0;
  }
}

/** Wraps the object's storage methods in place (the gateway keeps using the same objects). */
function meterStorage(state: ObjectState, object: ObjectMeter): void {
  const storage = state.storage;
  const sql = storage.sql;
  // The storage's own method, bound: the wrapper below replaces it on the same object.
  const exec = sql?.exec.bind(sql);
  if (sql !== undefined && exec !== undefined) {
    object.sql = sql;
    sql.exec = (query: string, ...bindings: unknown[]) => {
      const cursor = exec(query, ...bindings);
      openCursors.set(cursor, {
        object,
        label: statementLabel(query),
        read: 0,
        written: 0,
        idle: 0,
        since: Date.now(),
      });
      queueFlush();
      return cursor;
    };
  }
  const wrap = (target: Methods, name: string, before: (args: unknown[]) => void, after?: (value: unknown) => void) => {
    const original = target[name];
    if (!isFunction(original)) return;
    target[name] = function (this: unknown, ...args: unknown[]) {
      before(args);
      const value = original.apply(this, args);
      if (after === undefined) return value;
      if (isPromise(value))
        return value.then((resolved) => {
          after(resolved);
          return resolved;
        });
      after(value);
      return value;
    };
  };
  const alarmTime = (value: unknown): number | null =>
    value instanceof Date ? value.getTime() : typeof value === "number" ? value : null;
  wrap(storage, "setAlarm", (args) => {
    meter.setAlarms += 1;
    object.alarmAt = alarmTime(args[0]);
    object.dirty = true;
  });
  wrap(storage, "deleteAlarm", () => (object.alarmAt = null));
  wrap(
    storage,
    "deleteAll",
    () => {
      if (exec !== undefined) meter.deleteAllRows += rowsHeld(exec);
    },
    () => {
      object.alarmAt = null;
      object.dirty = false;
      setBytes(object, 0);
    },
  );
  for (const kv of [storage, storage.kv]) {
    if (kv === undefined) continue;
    wrap(kv, "get", (args) => (meter.kvRowsRead += keyCount(args[0])));
    wrap(
      kv,
      "list",
      () => undefined,
      (value) => (meter.kvRowsRead += Math.max(1, (value as Map<unknown, unknown>)?.size ?? 0)),
    );
    wrap(kv, "put", (args) => {
      meter.kvRowsWritten += typeof args[0] === "string" ? 1 : keyCount(args[0]);
      object.dirty = true;
    });
    wrap(kv, "delete", (args) => {
      meter.kvRowsWritten += keyCount(args[0]);
      object.dirty = true;
    });
  }
}

/** Keeps the object busy until a returned body has been read to its end (or cancelled). */
function trackBody(object: ObjectMeter, value: unknown): unknown {
  if (value instanceof Response && value.body !== null && (value as { webSocket?: unknown }).webSocket == null) {
    const { readable, writable } = new IdentityTransformStream();
    holdUntil(object, value.body.pipeTo(writable));
    return new Response(readable, value);
  }
  if (value instanceof ReadableStream) {
    const { readable, writable } = new IdentityTransformStream();
    holdUntil(object, value.pipeTo(writable));
    return readable;
  }
  return value;
}

/** The methods a Durable Object class defines (its own and inherited, not Object's). */
function methodNames(Base: { prototype: object }): string[] {
  const names = new Set<string>();
  for (let proto: object | null = Base.prototype; proto !== null && proto !== Object.prototype;) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (name !== "constructor" && descriptor !== undefined && isFunction(descriptor.value)) names.add(name);
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return [...names];
}

const objectOf = new WeakMap<object, ObjectMeter>();

type DurableObjectClass = new (state: ObjectState, env: object) => object;

/** A subclass of a Durable Object class that meters each instance; exported under the class's own name. */
export function meterDurableObject<C extends abstract new (...args: never[]) => object>(Class: C): C {
  const Base = Class as unknown as DurableObjectClass;
  const Metered = class extends Base {
    constructor(state: ObjectState, env: object) {
      const object = objectMeter(state);
      meter.constructions += 1;
      enter(object);
      meterStorage(state, object);
      const waitUntil = state.waitUntil.bind(state);
      state.waitUntil = (promise: Promise<unknown>) => {
        holdUntil(object, promise);
        waitUntil(promise);
      };
      const blockConcurrencyWhile = state.blockConcurrencyWhile.bind(state);
      state.blockConcurrencyWhile = (callback: () => Promise<unknown>) => {
        const result = blockConcurrencyWhile(callback);
        holdUntil(object, result);
        return result;
      };
      try {
        super(state, meteredEnv(env));
      } finally {
        // The constructor's own work ends with the call it was created for, which enters before this runs.
        void Promise.resolve().then(() => leave(object));
      }
      objectOf.set(this, object);
    }
  };
  for (const name of methodNames(Base)) {
    const original = (Base.prototype as Methods)[name] as AnyFunction;
    Object.defineProperty(Metered.prototype, name, {
      configurable: true,
      writable: true,
      value: function (this: object, ...args: unknown[]) {
        const object = objectOf.get(this);
        if (object === undefined) return original.apply(this, args);
        if (name === "alarm") {
          meter.alarms += 1;
          object.alarmAt = null;
        }
        enter(object);
        let result: unknown;
        try {
          result = original.apply(this, args);
        } catch (error) {
          leave(object);
          throw error;
        }
        const settle = (value: unknown): unknown => {
          const tracked = trackBody(object, value);
          leave(object);
          return tracked;
        };
        if (!isPromise(result)) return settle(result);
        return result.then(settle, (error: unknown) => {
          leave(object);
          throw error;
        });
      },
    });
  }
  Object.defineProperty(Metered, "name", { value: Base.name });
  return Metered as unknown as C;
}

// ---- the Worker's handlers, and the bench-only read-out ----

export function snapshot(): MeterSnapshot {
  flushCursors();
  const now = Date.now();
  let activeMs = meter.closedActiveMs;
  let busy = 0;
  let storageBytes = 0;
  let byteMs = meter.closedByteMs;
  let alarmsPending = 0;
  let nextAlarmAt: number | null = null;
  for (const object of meter.objects.values()) {
    if (object.busy > 0) {
      busy += 1;
      activeMs += now - object.busySince;
    } else refreshSize(object);
    storageBytes += object.bytes;
    byteMs += object.bytes * (now - object.bytesSince);
    if (object.alarmAt !== null) {
      alarmsPending += 1;
      nextAlarmAt = nextAlarmAt === null ? object.alarmAt : Math.min(nextAlarmAt, object.alarmAt);
    }
  }
  return {
    at: now,
    worker: { requests: meter.workerRequests, scheduled: meter.scheduled },
    d1: { metered: meter.d1Metered, ...meter.d1 },
    d1Statements: Object.fromEntries(meter.d1Statements),
    durableObjects: {
      fetches: meter.fetches,
      rpcCalls: meter.rpcCalls,
      alarms: meter.alarms,
      constructions: meter.constructions,
      objects: meter.objects.size,
      activeMs,
      busy,
      sqlRowsRead: meter.sqlRowsRead,
      sqlRowsWritten: meter.sqlRowsWritten,
      setAlarms: meter.setAlarms,
      deleteAllRows: meter.deleteAllRows,
      kvRowsRead: meter.kvRowsRead,
      kvRowsWritten: meter.kvRowsWritten,
      storageBytes,
      storageByteMs: byteMs,
      alarmsPending,
      nextAlarmAt,
    },
    sqlStatements: Object.fromEntries(meter.sqlStatements),
  };
}

/** The path the bench reads the meter on; every other request is the gateway's. */
export const METER_PATH = "/__meter";

interface WorkerHandler {
  fetch?: (request: Request, env: object, ctx: unknown) => unknown;
  scheduled?: (controller: unknown, env: object, ctx: unknown) => unknown;
}

export function meterWorker(handler: WorkerHandler): WorkerHandler {
  if (typeof handler !== "object" || handler === null)
    throw new Error("meter: the Worker's default export is not a handler object");
  const metered: WorkerHandler = { ...handler };
  const { fetch, scheduled } = handler;
  if (fetch !== undefined) {
    metered.fetch = (request, env, ctx) => {
      if (request.method === "GET" && request.url.endsWith(METER_PATH)) return Response.json(snapshot());
      meter.workerRequests += 1;
      return fetch.call(handler, request, meteredEnv(env), ctx);
    };
  }
  if (scheduled !== undefined) {
    metered.scheduled = (controller, env, ctx) => {
      meter.scheduled += 1;
      return scheduled.call(handler, controller, meteredEnv(env), ctx);
    };
  }
  return metered;
}
