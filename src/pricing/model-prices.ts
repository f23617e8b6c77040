// The optional price table (`MODEL_PRICES`, JSON: model name or glob -> dollars per million input
// and output tokens) that turns usage into cost. Parsed and checked once per raw value; a wrong
// table names the entry and field at fault. Used by GET /v1/usage and GET /admin/usage.

import { globMatcher } from "../upstream/routes";
import { logConfigProblem } from "../observe/problems";

export interface ModelPrice {
  /** The table's key: an exact model name, or a glob where `*` matches any characters. */
  pattern: string;
  inputPerMillion: number;
  outputPerMillion: number;
}

interface PriceEntry extends ModelPrice {
  matcher: RegExp;
}

export type PriceTable =
  { ok: true; exact: Map<string, ModelPrice>; globs: PriceEntry[] } | { ok: false; problem: string };

/** Matching is a scan of the globs per model row; a longer table is a mistake, not a price list. */
const MAX_PRICES = 1000;
const FIELDS: ReadonlySet<string> = new Set(["input_per_million", "output_per_million"]);

class PriceProblem extends Error {}

function dollars(entry: Record<string, unknown>, field: string, at: string): number {
  const value = entry[field];
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    throw new PriceProblem(`${at}.${field} must be a number of dollars per million tokens, 0 or more.`);
  return value;
}

function parse(value: unknown): PriceTable {
  let table: unknown = value;
  if (typeof value === "string") {
    try {
      table = JSON.parse(value);
    } catch {
      throw new PriceProblem("MODEL_PRICES is not valid JSON.");
    }
  }
  if (typeof table !== "object" || table === null || Array.isArray(table))
    throw new PriceProblem(
      'MODEL_PRICES must be a JSON object such as {"gpt-4o-mini": {"input_per_million": 0.15, "output_per_million": 0.6}}.',
    );
  const entries = Object.entries(table as Record<string, unknown>);
  if (entries.length > MAX_PRICES) throw new PriceProblem(`MODEL_PRICES has more than ${MAX_PRICES} entries.`);
  const exact = new Map<string, ModelPrice>();
  const globs: PriceEntry[] = [];
  for (const [pattern, entry] of entries) {
    const at = `MODEL_PRICES[${JSON.stringify(pattern.slice(0, 100))}]`;
    if (pattern === "") throw new PriceProblem("MODEL_PRICES has an empty model name.");
    if (typeof entry !== "object" || entry === null || Array.isArray(entry))
      throw new PriceProblem(`${at} must be an object with input_per_million and output_per_million.`);
    const fields = entry as Record<string, unknown>;
    const unknown = Object.keys(fields).find((field) => !FIELDS.has(field));
    if (unknown !== undefined)
      throw new PriceProblem(
        `${at} has an unknown field '${unknown.slice(0, 64)}' (the fields are input_per_million and output_per_million).`,
      );
    const price = {
      pattern,
      inputPerMillion: dollars(fields, "input_per_million", at),
      outputPerMillion: dollars(fields, "output_per_million", at),
    };
    if (pattern.includes("*")) globs.push({ ...price, matcher: globMatcher(pattern) });
    else exact.set(pattern, price);
  }
  return { ok: true, exact, globs };
}

/** The last raw value parsed and its table: configuration, not request state. */
let cached: { raw: string; table: PriceTable } | undefined;

/** The price table of these vars; null when `MODEL_PRICES` is unset (usage shows tokens only). */
export function readModelPrices(env: Env): PriceTable | null {
  const raw = (env as unknown as Record<string, unknown>).MODEL_PRICES;
  if (raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === "")) return null;
  if (typeof raw === "string" && cached?.raw === raw) return cached.table;
  let table: PriceTable;
  try {
    table = parse(raw);
  } catch (error) {
    if (!(error instanceof PriceProblem)) throw error;
    logConfigProblem("MODEL_PRICES", `usage prices disabled: ${error.message}`);
    table = { ok: false, problem: error.message };
  }
  if (typeof raw === "string") cached = { raw, table };
  return table;
}

/** The price of `model`: its exact entry, else the first glob that matches it, in the table's order. */
export function priceOf(table: PriceTable & { ok: true }, model: string): ModelPrice | undefined {
  return table.exact.get(model) ?? table.globs.find((entry) => entry.matcher.test(model));
}

/** Dollars for `tokens` at `perMillion`, to the nano-dollar (float noise trimmed). */
export const costOf = (tokens: number, perMillion: number): number =>
  Math.round(((tokens * perMillion) / 1_000_000) * 1e9) / 1e9;
