// The capacity plan's simulation (docs/capacity.md): the real Worker under Miniflare over three local D1
// shards (`D1_SHARDS=DB,DB_2,DB_3`), stored 100-event streams from many tenants arriving at a fixed rate
// (open loop, the plan's per-shard rate times three), then what each shard holds and what D1 spent:
// bytes and rows per response, D1 query time per response (the meter's sum of `meta.duration`), latency.
//   node bench/shard-sim.ts [--rate=2] [--seconds=60] [--tenants=60] [--events=100]
// Writes bench/.work/shard-sim.json and prints a Markdown table.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGatewayOnMock } from "#bench/gateway";
import { percentiles } from "#bench/figures";

const arg = (name: string, fallback: number): number =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);

const SHARDS = ["DB", "DB_2", "DB_3"];
/** Responses per second per shard: the plan's figure (docs/capacity.md). */
const RATE_PER_SHARD = arg("rate", 2);
const SECONDS = arg("seconds", 60);
const TENANTS = arg("tenants", 60);
const EVENTS = arg("events", 100);

const root = join(import.meta.dirname, "..");
const work = mkdtempSync(join(process.env.LOAD_TMPDIR ?? tmpdir(), "gw-shard-sim-"));
const { mock, gateway } = await startGatewayOnMock(work, {
  meter: true,
  extraD1: SHARDS.slice(1),
  vars: { D1_SHARDS: SHARDS.join(",") },
});

interface Outcome {
  ok: boolean;
  ms: number;
  id?: string;
}

/** One stored streamed response for `tenant`, read to its end. */
async function oneResponse(tenant: number): Promise<Outcome> {
  const started = performance.now();
  try {
    const response = await fetch(`${gateway.baseUrl}/responses`, {
      method: "POST",
      headers: { authorization: `Bearer sim-tenant-${tenant}`, "content-type": "application/json" },
      body: JSON.stringify({ model: `bench:events=${EVENTS}`, input: "simulate", stream: true, store: true }),
    });
    const text = await response.text();
    const ok = response.ok && text.includes("response.completed");
    const id = /"id":"(resp_[^"]+)"/.exec(text)?.[1];
    return { ok, ms: performance.now() - started, ...(id === undefined ? {} : { id }) };
  } catch {
    return { ok: false, ms: performance.now() - started };
  }
}

try {
  // The migrated, empty databases' size: the history's bytes are what each grows by.
  const emptyBytes = new Map<string, number>();
  for (const name of SHARDS) emptyBytes.set(name, (await gateway.d1Bytes(name)) ?? 0);
  const before = await gateway.meter();
  const total = Math.round(RATE_PER_SHARD * SHARDS.length * SECONDS);
  const gapMs = 1000 / (RATE_PER_SHARD * SHARDS.length);
  const started = performance.now();
  const pending: Promise<Outcome>[] = [];
  // Open loop: request i leaves at i * gap whatever the earlier ones are doing.
  for (let i = 0; i < total; i++) {
    const due = started + i * gapMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(oneResponse(i % TENANTS));
  }
  const outcomes = await Promise.all(pending);
  const elapsed = (performance.now() - started) / 1000;
  const after = await gateway.meter();
  const good = outcomes.filter((o) => o.ok);

  const shards = [];
  const tenantHomes = new Map<string, string[]>();
  for (const name of SHARDS) {
    const db = await gateway.d1(name);
    const counts = await gateway.tableCounts(name);
    const tenants = await db.prepare("SELECT DISTINCT tenant_id FROM responses").all<{ tenant_id: string }>();
    for (const { tenant_id } of tenants.results)
      tenantHomes.set(tenant_id, [...(tenantHomes.get(tenant_id) ?? []), name]);
    const size = (await gateway.d1Bytes(name)) ?? 0;
    shards.push({
      shard: name,
      responses: counts.responses ?? 0,
      tenants: tenants.results.length,
      bytes: size - emptyBytes.get(name)!,
      rows: Object.values(counts).reduce((sum, n) => sum + n, 0),
    });
  }
  const stored = shards.reduce((sum, s) => sum + s.responses, 0);
  const d1Ms = after.d1.durationMs - before.d1.durationMs;
  const queries = after.d1.queries - before.d1.queries;
  const latency = percentiles(good.map((o) => o.ms).sort((a, b) => a - b));
  const result = {
    date: new Date().toISOString(),
    ratePerShard: RATE_PER_SHARD,
    offeredPerSecond: RATE_PER_SHARD * SHARDS.length,
    seconds: SECONDS,
    elapsedSeconds: elapsed,
    sent: total,
    completed: good.length,
    achievedPerSecond: good.length / elapsed,
    storedResponses: stored,
    tenantsOnMoreThanOneShard: [...tenantHomes.values()].filter((homes) => homes.length > 1).length,
    shards,
    d1: {
      queriesPerResponse: queries / Math.max(1, good.length),
      rowsWrittenPerResponse: (after.d1.rowsWritten - before.d1.rowsWritten) / Math.max(1, good.length),
      rowsReadPerResponse: (after.d1.rowsRead - before.d1.rowsRead) / Math.max(1, good.length),
      queryMsPerResponse: d1Ms / Math.max(1, good.length),
      busyFractionPerShard: d1Ms / 1000 / elapsed / SHARDS.length,
    },
    latencyMs: latency,
  };
  mkdirSync(join(root, "bench/.work"), { recursive: true });
  writeFileSync(join(root, "bench/.work/shard-sim.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`| shard | responses | tenants | D1 bytes | bytes / response |`);
  console.log(`| --- | --- | --- | --- | --- |`);
  for (const s of shards)
    console.log(
      `| ${s.shard} | ${s.responses} | ${s.tenants} | ${s.bytes} | ${s.responses === 0 ? "–" : Math.round(s.bytes / s.responses)} |`,
    );
  console.log(JSON.stringify({ ...result, shards: undefined }, null, 2));
  if (good.length !== total || stored !== good.length || result.tenantsOnMoreThanOneShard > 0) process.exitCode = 1;
} finally {
  await gateway.stop();
  await mock.close();
  rmSync(work, { recursive: true, force: true });
}
