// Finds the stored output items an `item_reference` names. An ended response's row lists its output
// items' ids (`output_item_ids`), and a lookup reads that list over the tenant's most recent stored
// responses, newest first, in D1: no index on item ids, which would cost a billed row per item on
// every response for a lookup few clients make. Used by src/run/item-references.ts.

import { and, eq, inArray, sql } from "drizzle-orm";
import type { OutputItem } from "../responses/types";
import type { Db } from "./client";
import { readBlob } from "./codec";
import { idArrays, listAsJson } from "./id-lists";
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
  // One query for every id, the window read once: an instr per id per list read the window again
  // for every 90 ids (4 s of D1 for 2,048 ids over 10,000 responses).
  for (const wanted of idArrays(ids)) {
    const rows = await db.all<{ id: string; held: string }>(sql`
      SELECT r.id, json_group_array(e.value) AS held FROM (
        SELECT id, output_item_ids FROM responses
         WHERE tenant_id = ${tenantId} AND store = 1
         ORDER BY id DESC LIMIT ${ITEM_LOOKUP_WINDOW}) r, json_each(${listAsJson("r.output_item_ids")}) e
       WHERE e.value IN (SELECT value FROM json_each(${wanted}))
       GROUP BY r.id
       ORDER BY r.id DESC`);
    for (const row of rows)
      for (const id of JSON.parse(row.held) as string[]) if (!owners.has(id)) owners.set(id, row.id);
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

/** Whether the tenant has more stored responses than ITEM_LOOKUP_WINDOW: a lookup left its older ones out. */
export async function pastItemLookupWindow(db: Db, tenantId: string): Promise<boolean> {
  const rows = await db.all<{ id: string }>(sql`
    SELECT id FROM responses WHERE tenant_id = ${tenantId} AND store = 1
     ORDER BY id DESC LIMIT 1 OFFSET ${ITEM_LOOKUP_WINDOW}`);
  return rows.length > 0;
}
