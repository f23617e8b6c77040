// The space-separated id lists rows keep for `item_reference` lookups (` a b `), split in SQL: one
// query matches every wanted id against the lists with json_each, so its work grows with the lists'
// bytes, not bytes times ids as an instr per id per list did. Used by item-lookup.ts and
// conversation-item-lookup.ts, and by the writers of the lists.

import { type SQL, sql } from "drizzle-orm";

/**
 * Whether `id` goes in a list: one holding NUL does not, as SQLite's string functions end at it and
 * JSON text may not hold it, so no list split can give it back.
 */
export const listable = (id: string): boolean => !id.includes("\0");

/**
 * The list in `column` as the JSON array of its ids, or an empty one for a list written before NUL
 * was kept out of lists (json_each would refuse the whole query for it).
 */
export const listAsJson = (column: string): SQL =>
  sql.raw(
    `CASE WHEN instr(CAST(${column} AS BLOB), x'00') = 0 THEN ` +
      `'["' || replace(replace(replace(trim(${column}), '\\', '\\\\'), '"', '\\"'), ' ', '","') || '"]' ELSE '[]' END`,
  );

/** Bytes of one bound JSON array of ids: D1 binds values of up to 2 MB. */
const IDS_JSON_BYTES = 1_000_000;

/** The listable of `ids` as JSON arrays to bind, each under D1's value size (one for any usual request). */
export function idArrays(ids: Iterable<string>): string[] {
  const arrays: string[] = [];
  let current: string[] = [];
  let bytes = 2;
  for (const id of ids) {
    if (!listable(id)) continue;
    const size = new TextEncoder().encode(JSON.stringify(id)).length + 1;
    if (current.length > 0 && bytes + size > IDS_JSON_BYTES) {
      arrays.push(JSON.stringify(current));
      current = [];
      bytes = 2;
    }
    current.push(id);
    bytes += size;
  }
  if (current.length > 0) arrays.push(JSON.stringify(current));
  return arrays;
}
