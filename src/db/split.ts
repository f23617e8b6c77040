// Splits large text values across rows: D1 and Durable Object SQLite rows hold at most 2 MB.
// Used by the D1 item rows and snapshots (src/db/) and the run's event log (src/run/event-log.ts).

/**
 * Characters per stored part. A UTF-16 code unit encodes to at most 3 UTF-8 bytes, so 600k units
 * stay under 1.8 MB, below the 2 MB row limit with room for the other columns.
 */
export const MAX_PART_CHARS = 600_000;

/** Splits `text` into parts of at most `max` code units, never inside a surrogate pair. */
export function splitText(text: string, max = MAX_PART_CHARS): string[] {
  if (text.length <= max) return [text];
  const parts: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + max, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    parts.push(text.slice(start, end));
    start = end;
  }
  return parts;
}
