// The stored foreground runs of this isolate whose client left (ResponseRecorder.markLeft,
// src/stream/recorder.ts): a create continuing from one ends it from D1 (endLeftRun,
// src/stream/dead-run.ts) and stops it here at once, where a run in another isolate learns it at its
// next heartbeat (RECORD_FLUSH_SECONDS), its row no longer running. D1 decides which end wins; this
// only hastens the stop.

/** What stops each left run, by tenant and response. */
const left = new Map<string, () => void>();

const keyOf = (tenantId: string, responseId: string): string => `${tenantId}\n${responseId}`;

/** Lists `responseId`'s run as left; the returned function unlists it. */
export function noteLeftRun(tenantId: string, responseId: string, stop: () => void): () => void {
  const key = keyOf(tenantId, responseId);
  left.set(key, stop);
  return () => {
    if (left.get(key) === stop) left.delete(key);
  };
}

/** `responseId` was ended from D1 while its client was gone: its run here, if any, stops. */
export function leftRunEnded(tenantId: string, responseId: string): void {
  const key = keyOf(tenantId, responseId);
  const stop = left.get(key);
  left.delete(key);
  stop?.();
}
