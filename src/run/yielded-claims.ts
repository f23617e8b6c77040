// The foreground turns of this isolate whose client left and whose conversation claim is yielded
// (ResponseRecorder.yieldClaim, src/stream/recorder.ts): the response that takes the conversation
// from one of them stops it at once, where a turn run by another isolate learns it at its next
// heartbeat (RECORD_FLUSH_SECONDS). D1 decides who holds a claim; this only hastens the stop. Used
// by the recorder and the conversation claim (conversation-turn.ts).

/** One yielded turn per conversation: what stops it. */
const yielded = new Map<string, { responseId: string; stop: () => void }>();

const keyOf = (tenantId: string, conversationId: string): string => `${tenantId}\n${conversationId}`;

/** Lists `responseId`'s yielded claim on the conversation; the returned function unlists it. */
export function noteYieldedClaim(
  tenantId: string,
  conversationId: string,
  responseId: string,
  stop: () => void,
): () => void {
  const key = keyOf(tenantId, conversationId);
  const entry = { responseId, stop };
  yielded.set(key, entry);
  return () => {
    if (yielded.get(key) === entry) yielded.delete(key);
  };
}

/** `responseId` claimed the conversation (D1 said so): a turn listed as yielding it lost it. */
export function claimTaken(tenantId: string, conversationId: string, responseId: string): void {
  const key = keyOf(tenantId, conversationId);
  const entry = yielded.get(key);
  if (entry === undefined || entry.responseId === responseId) return;
  yielded.delete(key);
  entry.stop();
}
