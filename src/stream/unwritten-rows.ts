// The rows of streams this isolate has yet to write. A stored stream's row goes to D1 just after its
// first events reach the client (so they never wait on D1), and a client may act on the id at once: a
// lookup that misses an id listed here waits for that write instead of answering 404. A request served
// by another isolate comes at least a network round trip after the client saw the id, by which time the
// write has gone. Used by the recorder (src/stream/recorder.ts) and the lookups by id.

/** Start writes in flight, by tenant and response id; each leaves the map when it settles. */
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
