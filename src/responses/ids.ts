// Gateway identifiers in OpenAI's style: a prefix and 48 lowercase hex digits (`resp_…`, `msg_…`,
// `evt_…`), time-ordered like OpenAI's. Used wherever the gateway mints an id.

const HEX_DIGITS = 48;
/**
 * The first 12 digits are the creation time in milliseconds (48 bits: enough until the year
 * 10889), so ids sort by creation time and a list ordered by (created_at, id) keeps creation
 * order within a second; the other 36 digits (144 random bits) keep ids unguessable and unique.
 */
const TIME_DIGITS = 12;

function randomHex(digits: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(digits / 2));
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

const timeHex = (ms: number): string => Math.floor(ms).toString(16).padStart(TIME_DIGITS, "0").slice(-TIME_DIGITS);

export const newId = (prefix: string, now = Date.now()): string =>
  `${prefix}_${timeHex(now)}${randomHex(HEX_DIGITS - TIME_DIGITS)}`;

export const newResponseId = (): string => newId("resp");

/** Ids the gateway accepts in paths: a known prefix and a bounded run of safe characters. */
const ID_PATTERN = /^[a-z]{2,8}_[A-Za-z0-9_-]{1,128}$/;

export const isWellFormedId = (id: string, prefix: string): boolean =>
  id.startsWith(`${prefix}_`) && ID_PATTERN.test(id);

/** An id this gateway minted (`resp_` and 48 lowercase hex digits; older ones are all random, same shape). */
export const isGatewayResponseId = (id: string): boolean => /^resp_[0-9a-f]{48}$/.test(id);
