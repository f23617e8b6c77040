// Gateway identifiers in OpenAI's style: a prefix and 48 lowercase hex digits
// (`resp_…`, `msg_…`, `evt_…`). Used wherever the gateway mints an id.

const HEX_DIGITS = 48;

function randomHex(digits: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(digits / 2));
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

export const newId = (prefix: string): string => `${prefix}_${randomHex(HEX_DIGITS)}`;

export const newResponseId = (): string => newId("resp");

/** Ids the gateway accepts in paths: a known prefix and a bounded run of safe characters. */
const ID_PATTERN = /^[a-z]{2,8}_[A-Za-z0-9_-]{1,128}$/;

export const isWellFormedId = (id: string, prefix: string): boolean =>
  id.startsWith(`${prefix}_`) && ID_PATTERN.test(id);

/** An id this gateway minted (`resp_` and 48 lowercase hex digits). */
export const isGatewayResponseId = (id: string): boolean => /^resp_[0-9a-f]{48}$/.test(id);
