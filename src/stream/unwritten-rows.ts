// The rows of foreground responses this isolate has yet to write. A stored foreground response's row
// goes to D1 with its end when it ends within a second (one D1 call), else a second in, and a client
// that saw the id in a stream may act on it before that: a lookup that misses an id listed here waits
// for that write (about a second at most) instead of answering 404. A lookup served by another isolate
// in that first second finds nothing (see docs/reliability.md). Used by the recorder
// (src/stream/recorder.ts) and the lookups by id.

/** Start writes not yet settled, by tenant and response id; each leaves the map when it settles. */
const writing = new Map<string, Promise<void>>();

const keyOf = (tenantId: string, responseId: string): string => `${tenantId}\n${responseId}`;

/** Lists `write` (the row's start write) until it settles. */
export function noteRowWrite(tenantId: string, responseId: string, write: Promise<void>): void {
  const key = keyOf(tenantId, responseId);
  writing.set(key, write);
  const done = () => {
    if (writing.get(key) === write) writing.delete(key);
  };
  write.then(done, done);
}

/** Waits for the row of `responseId` if this isolate is writing it; whether it was written (false: not listed, or refused). */
export async function rowWritten(tenantId: string, responseId: string): Promise<boolean> {
  const write = writing.get(keyOf(tenantId, responseId));
  if (write === undefined) return false;
  return write.then(
    () => true,
    () => false,
  );
}
