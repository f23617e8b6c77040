// Keeps `npm test` quiet and honest: what workerd and the gateway print because a test broke
// something on purpose is held back and counted, so any other line on stderr is news. Used by
// vitest.config.ts (console output of the Worker) and global-setup.ts (workerd's own output).
// VERBOSE_TEST_LOGS=1 shows everything.

/** Output that a test provoked, by the mark the tests put on what they break. */
const EXPECTED: RegExp[] = [
  // A Durable Object reset by a test (`state.abort("simulated reset")`, test/support/run-object.ts):
  // workerd reports "uncaught exception; ... broken.outputGateBroken; jsg.Error: simulated reset".
  /simulated reset/,
  // A D1 write refused by a test's trigger (`refused_<uuid>`, test/run/storage-faults.test.ts).
  /refused_[0-9a-f]{32}/,
  // workerd's note that an alarm was re-armed while its handler ran (tests run alarms by hand).
  /^NOSENTRY SQLite alarm handler canceled with requestScheduledAlarm/,
  // The gateway's structured lines (src/observe/) that every test makes: a line per request and per
  // response end, the upstream and webhook failures the mock servers are told to answer with (and the
  // webhook recoveries after them), the configuration each test isolate logs once (`config`) and the
  // wrong settings tests make on purpose (`config_problem`).
  // Its d1_retry, d1_failure and failure lines stay news (unless marked as above). The console
  // formats them with colour codes.
  /^\{\s*event: (?:\x1b\[\d+m)?'(?:request|response_end|upstream_failure|upstream_anomaly|webhook_failure|webhook_recovered|sweep|retention|config|config_problem)'/,
];

const COUNTER = Symbol.for("responses-gateway.heldBackLines");
type Counted = { [COUNTER]?: number };

export const verbose = (): boolean => process.env.VERBOSE_TEST_LOGS === "1";

/** Whether `text` is provoked noise; counts it if so. */
export function heldBack(text: string): boolean {
  if (verbose() || !EXPECTED.some((pattern) => pattern.test(text))) return false;
  const counted = globalThis as Counted;
  counted[COUNTER] = (counted[COUNTER] ?? 0) + 1;
  return true;
}

type Write = (chunk: string | Uint8Array, ...rest: unknown[]) => boolean;

/** Drops provoked noise from one stream; returns the undo. */
function quiet(stream: NodeJS.WriteStream): () => void {
  const own = Object.getOwnPropertyDescriptor(stream, "write");
  const write = stream.write.bind(stream) as Write;
  const filtered: Write = (chunk, ...rest) =>
    heldBack(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8")) || write(chunk, ...rest);
  Object.defineProperty(stream, "write", { value: filtered, configurable: true, writable: true });
  return () => {
    if (own === undefined) Reflect.deleteProperty(stream, "write");
    else Object.defineProperty(stream, "write", own);
  };
}

/** Drops provoked noise from this process's stdout and stderr (workerd's logs arrive there); returns the undo. */
export function quietRuntimeOutput(): () => void {
  const undo = [quiet(process.stdout), quiet(process.stderr)];
  return () => {
    for (const restore of undo) restore();
    const count = (globalThis as Counted)[COUNTER] ?? 0;
    if (count > 0)
      process.stdout.write(
        `Held back ${count} lines of expected runtime output from faults the tests provoke (simulated Durable Object ` +
          `resets, D1 writes refused by a test trigger, configuration lines, the gateway's request, response and ` +
          `upstream/webhook failure lines); VERBOSE_TEST_LOGS=1 shows them.\n`,
      );
  };
}
