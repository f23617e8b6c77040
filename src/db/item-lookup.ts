// Finds the stored output items an `item_reference` names. An ended response's row lists its output
// items' ids (`output_item_ids`), and a lookup reads that list over the tenant's most recent stored
// responses, newest first, in D1: no index on item ids, which would cost a billed row per item on
// every response for a lookup few clients make. Used by src/run/item-references.ts.

import { and, eq, inArray, sql } from "drizzle-orm";
import type { OutputItem } from "../responses/types";
import type { Db } from "./client";
import { readBlob } from "./codec";
import { readOutput } from "./responses";
import { responses } from "./schema";

/** How many of a tenant's most recent stored responses a reference is looked up among. */
export const ITEM_LOOKUP_WINDOW = 10_000;

/** Ids matched per query: D1 binds at most 100 parameters to one statement. */
const IDS_PER_QUERY = 90;

/** The stored output items with these ids (each from the newest response that has it); absent ids are left out. */
export async function findOutputItems(
  db: Db,
  tenantId: string,
  ids: readonly string[],
): Promise<Map<string, OutputItem>> {
  /** For each id, the newest response whose output has it. */
  const owners = new Map<string, string>();
  for (let start = 0; start < ids.length; start += IDS_PER_QUERY) {
    const chunk = ids.slice(start, start + IDS_PER_QUERY);
    const matches = sql.join(
      chunk.map((id) => sql`instr(output_item_ids, ${` ${id} `}) > 0`),
      sql` OR `,
    );
    const rows = await db.all<{ id: string; ids: string }>(sql`
      SELECT id, output_item_ids AS ids FROM (
        SELECT id, output_item_ids FROM responses
         WHERE tenant_id = ${tenantId} AND store = 1
         ORDER BY id DESC LIMIT ${ITEM_LOOKUP_WINDOW})
       WHERE ${matches}
       ORDER BY id DESC`);
    for (const id of chunk) {
      const owner = rows.find((row) => row.ids.includes(` ${id} `));
      if (owner !== undefined) owners.set(id, owner.id);
    }
  }
  const found = new Map<string, OutputItem>();
  const responseIds = [...new Set(owners.values())];
  for (let start = 0; start < responseIds.length; start += IDS_PER_QUERY) {
    const rows = await db
      .select({ id: responses.id, tenantId: responses.tenantId, output: readBlob(responses.output) })
      .from(responses)
      .where(
        and(eq(responses.tenantId, tenantId), inArray(responses.id, responseIds.slice(start, start + IDS_PER_QUERY))),
      );
    for (const row of rows)
      for (const item of await readOutput(db, row))
        if (typeof item.id === "string" && owners.get(item.id) === row.id) found.set(item.id, item);
  }
  return found;
}
