// Removes the upstream key from text an upstream sent back (some servers echo the key they were
// given in a 401). Used by the upstream client before an upstream error reaches a client or a log.

/** Keys shorter than this are not searched for: replacing a tiny string would garble messages. */
const MIN_REDACTED_KEY_LENGTH = 8;

export function redactKey(text: string, key: string | null): string {
  if (key === null || key.length < MIN_REDACTED_KEY_LENGTH || !text.includes(key)) return text;
  return text.split(key).join("[redacted key]");
}
