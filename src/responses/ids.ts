// Gateway identifiers in OpenAI's style: a prefix and 48 lowercase hex digits (`resp_…`, `msg_…`,
// `evt_…`). The first 12 digits are the creation time in milliseconds, so ids sort by creation
// (listing ties, retention and the sweep find rows by id range); the other 36 are random.

const HEX_DIGITS = 48;
/** Hex digits of the millisecond timestamp at the front of an id (enough until the year 10889). */
const TIME_DIGITS = 12;

function randomHex(digits: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(digits / 2));
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

const timeHex = (ms: number): string => Math.floor(ms).toString(16).padStart(TIME_DIGITS, "0").slice(-TIME_DIGITS);

export const newId = (prefix: string, nowMs = Date.now()): string =>
  `${prefix}_${timeHex(nowMs)}${randomHex(HEX_DIGITS - TIME_DIGITS)}`;

export const newResponseId = (): string => newId("resp");

/** The prefix of an output item's id by its type, for the items the gateway may have to name itself. */
export const ITEM_ID_PREFIXES: Readonly<Record<string, string>> = {
  message: "msg",
  reasoning: "rs",
  function_call: "fc",
};

/** Milliseconds the id's 12 time digits hold: from this time on (the year 10889) `timeHex` wraps around. */
const ID_CLOCK_END_MS = 16 ** TIME_DIGITS;

/**
 * The smallest id minted at `ms` or later: ids below it were minted earlier (or before ids were timed).
 * A time past the ids' clock is above every id (`g` sorts after every hex digit), not wrapped round to
 * an early one; one before 1970 is below every id.
 */
export const idFloorAt = (prefix: string, ms: number): string =>
  ms >= ID_CLOCK_END_MS ? `${prefix}_g` : `${prefix}_${timeHex(Math.max(0, ms))}`;

/** When ids began to carry their time (the compressed layout, 2026-12-04); rows from before have random ids. */
const TIMED_IDS_SINCE_MS = Date.UTC(2026, 11, 4);
/** How far ahead of this machine's clock another machine's id may be. */
const CLOCK_SKEW_MS = 60_000;

/**
 * The time in an id this gateway minted (`prefix`, then 48 hex digits), or null for one it cannot
 * have: malformed, or timed before ids were (a random id from before then) or ahead of the clock.
 */
export function mintedAtMs(id: string, prefix: string): number | null {
  if (!id.startsWith(`${prefix}_`) || !/^[0-9a-f]{48}$/.test(id.slice(prefix.length + 1))) return null;
  const ms = parseInt(id.slice(prefix.length + 1, prefix.length + 1 + TIME_DIGITS), 16);
  return ms >= TIMED_IDS_SINCE_MS && ms <= Date.now() + CLOCK_SKEW_MS ? ms : null;
}

/** Ids the gateway accepts in paths: a known prefix and a bounded run of safe characters. */
const ID_PATTERN = /^[a-z]{2,8}_[A-Za-z0-9_-]{1,128}$/;

export const isWellFormedId = (id: string, prefix: string): boolean =>
  id.startsWith(`${prefix}_`) && ID_PATTERN.test(id);

/** An id this gateway minted (`resp_` and 48 lowercase hex digits). */
export const isGatewayResponseId = (id: string): boolean => /^resp_[0-9a-f]{48}$/.test(id);
