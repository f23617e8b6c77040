// The limits and close codes of WebSocket mode, with their reasons: OpenAI's own numbers where it
// publishes them, ours where memory needs a bound. Used by the socket session and its tests.

/** OpenAI: at most 16 `response.create` in flight per connection; further ones queue, never refused. */
export const MAX_IN_FLIGHT = 16;

/** OpenAI: at most 32 named lanes (`stream_id`) per connection; the default lane is free. */
export const MAX_NAMED_LANES = 32;

/** OpenAI's `stream_id` grammar. */
export const STREAM_ID_PATTERN = /^[A-Za-z0-9_.-]{1,256}$/;

/**
 * Ours: bytes of `response.create` frames waiting for a slot. A Worker's isolate has 128 MB shared by
 * every request it serves; past this a create is answered with an `error` instead of held.
 */
export const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

/**
 * Ours: bytes of `response.create` frames running at once. Each running turn holds its body (and
 * copies of it) until it ends, so 16 frames of 16 MiB would hold far more than an isolate's 128 MB:
 * past this a create waits for running ones to end (a create alone always runs).
 */
export const MAX_RUNNING_BYTES = 16 * 1024 * 1024;

/**
 * Ours: bytes of `store: false` context kept for continuation on one connection. Past it, the lanes
 * used least recently lose their entry (a continuation from them is `previous_response_not_found`).
 */
export const MAX_CACHED_CONTEXT_BYTES = 16 * 1024 * 1024;

/**
 * Ours: refusals waiting for their lane's running request to end (a refusal follows the requests
 * before it on its lane). A client that keeps sending to a full queue adds one each frame: past this
 * the connection is closed (1008) rather than hold a list that grows with every frame.
 */
export const MAX_PENDING_REFUSALS = 256;

/** Close codes, chosen for the `openai` SDK's reconnect logic (`isRecoverableClose`). */
export const CLOSE = {
  /** Normal closure: no reconnect. */
  normal: 1000,
  /** Going away (the 60-minute limit, a shutdown): the SDK reconnects. */
  goingAway: 1001,
  /** A binary frame: this protocol is JSON text only. No reconnect. */
  unsupportedData: 1003,
  /** The key was refused mid-connection (revoked or invalid). No reconnect. */
  policyViolation: 1008,
  /** A frame over the size cap. No reconnect. */
  tooBig: 1009,
} as const;
