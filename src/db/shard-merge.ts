// Merging what every shard answered into one answer: keyset pages on the id (ids carry their creation
// time, so one cursor is valid on every shard) and usage sums. Pure; used by the operator's views
// (src/routes/admin/), which fan out with shards.ts.

import { pageOf, type ListOrder, type Page } from "./client";
import type { UsageDimension, UsageGroup } from "./usage";

/** SQLite's BINARY order of two ASCII ids, as `ORDER BY id` gives them. */
const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * One page out of every shard's page of the same query: each holds up to `limit + 1` rows after the
 * same cursor in `order` (by id, unless `compare` gives the page order), so the first `limit` of their union, in order, are the first `limit` of
 * all rows, and more follow exactly when the union holds more than `limit`.
 */
export function mergePages<T extends { id: string }>(
  pages: Page<T>[],
  order: ListOrder,
  limit: number,
  compare: (a: T, b: T) => number = order === "asc" ? byId : (a, b) => byId(b, a),
): Page<T> {
  const rows = pages.flatMap((page) => page.items);
  rows.sort(compare);
  const more = pages.some((page) => page.hasMore);
  // A shard with more rows holds a row after its own `limit`: past the merged page as well.
  return more ? { items: rows.slice(0, limit), hasMore: true } : pageOf(rows, limit);
}

/**
 * Usage groups of every shard summed into one list, ordered by the groups: a tenant lives on one
 * shard, but a day or a model has rows on many.
 */
export function mergeUsage(lists: UsageGroup[][], dimensions: readonly UsageDimension[]): UsageGroup[] {
  const groups = new Map<string, UsageGroup>();
  for (const group of lists.flat()) {
    const key = JSON.stringify(dimensions.map((dimension) => group[dimension] ?? ""));
    const sum = groups.get(key);
    if (sum === undefined) groups.set(key, { ...group });
    else {
      sum.responses += group.responses;
      sum.inputTokens += group.inputTokens;
      sum.outputTokens += group.outputTokens;
    }
  }
  const compare = (a: UsageGroup, b: UsageGroup): number => {
    for (const dimension of dimensions) {
      const x = a[dimension] ?? "";
      const y = b[dimension] ?? "";
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  };
  return [...groups.values()].sort(compare);
}
