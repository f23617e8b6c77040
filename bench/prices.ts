// Cloudflare's published Workers Paid list prices for each unit the cost meter counts: the price, its unit,
// what the plan includes, where it was read and when. Used by bench/cost.ts and shown in RESULTS.md.
//
// Prices are the marginal rates, beyond the included usage: a deployment within the inclusions pays the
// plan's $5 a month and nothing per response. Read on 2026-12-04 from developers.cloudflare.com (through the
// search tool's copy of the pages and of their source, github.com/cloudflare/cloudflare-docs).

export type PriceId =
  | "workerRequests"
  | "workerCpu"
  | "doRequests"
  | "doDuration"
  | "doRowsRead"
  | "doRowsWritten"
  | "doStorage"
  | "d1RowsRead"
  | "d1RowsWritten"
  | "d1Storage";

export interface Price {
  label: string;
  /** Dollars for `per` units. */
  dollars: number;
  per: number;
  /** The unit, plural ("requests", "GB-months"). */
  units: string;
  /** What counts as one, where it needs saying. */
  note?: string;
  /** What the Workers Paid plan includes each month before this price applies. */
  included: string;
  source: string;
  read: string;
}

const READ = "2026-12-04";
const WORKERS = "https://developers.cloudflare.com/workers/platform/pricing/";
const DURABLE_OBJECTS = "https://developers.cloudflare.com/durable-objects/platform/pricing/";
const D1 = "https://developers.cloudflare.com/d1/platform/pricing/";

export const PRICES: Record<PriceId, Price> = {
  workerRequests: {
    label: "Workers requests",
    dollars: 0.3,
    per: 1e6,
    units: "requests",
    included: "10 million",
    source: WORKERS,
    read: READ,
  },
  workerCpu: {
    label: "Workers CPU time",
    dollars: 0.02,
    per: 1e6,
    units: "CPU ms",
    included: "30 million CPU ms",
    source: WORKERS,
    read: READ,
  },
  doRequests: {
    label: "Durable Objects requests",
    dollars: 0.15,
    per: 1e6,
    units: "requests",
    note: "an HTTP request, an RPC method call or an alarm invocation",
    included: "1 million",
    source: DURABLE_OBJECTS,
    read: READ,
  },
  doDuration: {
    label: "Durable Objects duration",
    dollars: 12.5,
    per: 1e6,
    units: "GB-s",
    note: "wall-clock while active × 128 MB",
    included: "400,000 GB-s",
    source: DURABLE_OBJECTS,
    read: READ,
  },
  doRowsRead: {
    label: "Durable Objects SQLite rows read",
    dollars: 0.001,
    per: 1e6,
    units: "rows",
    included: "25 billion",
    source: DURABLE_OBJECTS,
    read: READ,
  },
  doRowsWritten: {
    label: "Durable Objects SQLite rows written",
    dollars: 1,
    per: 1e6,
    units: "rows",
    note: "deletes and each setAlarm() count as rows written",
    included: "50 million",
    source: DURABLE_OBJECTS,
    read: READ,
  },
  doStorage: {
    label: "Durable Objects SQLite stored data",
    dollars: 0.2,
    per: 1,
    units: "GB-months",
    included: "5 GB-month",
    source: DURABLE_OBJECTS,
    read: READ,
  },
  d1RowsRead: {
    label: "D1 rows read",
    dollars: 0.001,
    per: 1e6,
    units: "rows",
    included: "25 billion",
    source: D1,
    read: READ,
  },
  d1RowsWritten: {
    label: "D1 rows written",
    dollars: 1,
    per: 1e6,
    units: "rows",
    note: "an index adds a row when a write touches its columns; deletes count",
    included: "50 million",
    source: D1,
    read: READ,
  },
  d1Storage: {
    label: "D1 storage",
    dollars: 0.75,
    per: 1,
    units: "GB-months",
    included: "5 GB",
    source: D1,
    read: READ,
  },
};

/**
 * Memory a Durable Object is billed for while active, in GB: 128 MB whatever it uses. Cloudflare's own
 * examples compute it as 128 MB / 1 GB = 0.128 (1,000,000 s × 128 MB / 1 GB = 128,000 GB-s).
 */
export const DO_BILLED_GB = 0.128;
/** Bytes in a GB as storage is billed (decimal, as the duration examples use). */
export const BYTES_PER_GB = 1e9;
/** A billing month: Cloudflare averages storage over a 30-day period. */
export const MONTH_SECONDS = 30 * 86_400;
/** How long a stored response is kept (the gateway's RETENTION_DAYS default): 30 days = 1 GB-month per GB. */
export const RETENTION_MONTHS = 1;
