// What `D1_SHARDS` says and where it places a new tenant: pure, so the settings check (src/config.ts)
// and shard routing (shards.ts, which re-exports it) share one reading. The rule is in docs/sharding.md.

/** The first database: tenants, gateway keys and `tenant_shards`, and the history of its own tenants. */
export const CONTROL_SHARD = "DB";
/** Largest weight: enough to say "ten times as many new tenants", small enough to catch typos. */
const MAX_WEIGHT = 1000;

export interface Shard {
  /** Its binding name, as `D1_SHARDS` lists it. */
  name: string;
  /** Share of new tenants it takes (0: none). */
  weight: number;
}

/** The history databases, `DB` first, as `D1_SHARDS` lists them. */
export type ShardPlan = readonly Shard[];

/** `DB,DB_2:3,...` as a plan, or what is wrong with it. Empty means `DB` alone. */
export function parseShardPlan(text: string): ShardPlan | string {
  if (text.trim() === "") return [{ name: CONTROL_SHARD, weight: 1 }];
  const shards: Shard[] = [];
  for (const entry of text.split(",").map((part) => part.trim())) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)(?::(\d{1,4}))?$/.exec(entry);
    if (match === null) return `'${entry.slice(0, 64)}' is not a binding name with an optional ':weight'`;
    const name = match[1]!;
    const weight = match[2] === undefined ? 1 : Number(match[2]);
    if (weight > MAX_WEIGHT) return `the weight of ${name} is above ${MAX_WEIGHT}`;
    if (shards.some((shard) => shard.name === name)) return `${name} is listed twice`;
    shards.push({ name, weight });
  }
  if (shards[0]?.name !== CONTROL_SHARD) return `the list must start with ${CONTROL_SHARD}, the first database`;
  if (shards.every((shard) => shard.weight === 0))
    return "every shard has weight 0: new tenants would have nowhere to go";
  return shards;
}

// ---- the rule for new tenants ----

/**
 * Where a tenant without a record goes: a SHA-256 of its id, read as a number in [0, 1), picks a
 * shard in proportion to the weights, in list order. Pure: every isolate with the same setting
 * places a tenant alike, so two first writes at once agree (and `tenant_shards` settles a race anyway).
 */
export async function placeNewTenant(plan: ShardPlan, tenantId: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`shard:${tenantId}`)));
  const fraction = new DataView(digest.buffer).getUint32(0) / 2 ** 32;
  const total = plan.reduce((sum, shard) => sum + shard.weight, 0);
  let point = fraction * total;
  for (const shard of plan) {
    if (point < shard.weight) return shard.name;
    point -= shard.weight;
  }
  return plan.findLast((shard) => shard.weight > 0)!.name;
}
