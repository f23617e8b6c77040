// The rows of foreground responses this isolate has yet to write. A stored foreground response's row
// goes to D1 with its end when it ends within a second (one D1 call), else a second in, and a client
// that saw the id in a stream may act on it before that: a lookup that misses an id listed here waits
// for that write (about a second at most) instead of answering 404. A lookup served by another isolate
// in that first second finds nothing (see docs/reliability.md). Used by the recorder
// (src/stream/recorder.ts) and the lookups by id.

/** Start writes not yet settled, by tenant and response id; each leaves the map when it settles. */
const writing = new Map<string, Promise<void>>();
/** Flushes marking a run's client gone (`client_left`) not yet settled, listed the same way. */
const marking = new Map<string, Promise<void>>();

const keyOf = (tenantId: string, responseId: string): string => `${tenantId}\n${responseId}`;

function note(map: Map<string, Promise<void>>, tenantId: string, responseId: string, write: Promise<void>): void {
  const key = keyOf(tenantId, responseId);
  map.set(key, write);
  const done = () => {
    if (map.get(key) === write) map.delete(key);
  };
  write.then(done, done);
}

/** Lists `write` (the row's start write) until it settles. */
export function noteRowWrite(tenantId: string, responseId: string, write: Promise<void>): void {
  note(writing, tenantId, responseId, write);
}

/**
 * Lists `write` (the flush that marks the run's client gone) until it settles: a create continuing
 * from the run right after its client left (an agent's stop and next turn) finds the row without the
 * mark until then, and would be refused `previous_response_in_progress` for a run it may end.
 */
export function noteLeftMark(tenantId: string, responseId: string, write: Promise<void>): void {
  note(marking, tenantId, responseId, write);
}

/** Waits for the write `map` lists for `responseId`, if any; whether it was listed and landed. */
async function landed(map: Map<string, Promise<void>>, tenantId: string, responseId: string): Promise<boolean> {
  const write = map.get(keyOf(tenantId, responseId));
  if (write === undefined) return false;
  return write.then(
    () => true,
    () => false,
  );
}

/** Waits for the mark of `responseId`'s left client if this isolate is writing it; whether it was written. */
export const leftMarkWritten = (tenantId: string, responseId: string): Promise<boolean> =>
  landed(marking, tenantId, responseId);

/** Waits for the row of `responseId` if this isolate is writing it; whether it was written (false: not listed, or refused). */
export const rowWritten = (tenantId: string, responseId: string): Promise<boolean> =>
  landed(writing, tenantId, responseId);
