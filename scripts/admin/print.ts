// How the admin CLI shows an answer: a table for a list, a field per line for one object, or the
// admin API's JSON unchanged with --json (for scripts).

import type { Row } from "./queries.ts";

/** Columns of each list, by the command that lists it; others show every field. */
const COLUMNS: Record<string, string[]> = {
  "tenant list": ["id", "name", "created_at", "shard", "moving_to"],
  "key list": ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"],
  "webhook list": ["id", "name", "url", "event_types", "signing_secret_hint", "created_at"],
  // No URL: a webhook URL's path often holds a token (--json has it, as the admin API answers).
  "webhook deliveries": [
    "id",
    "created_at",
    "status",
    "response_id",
    "endpoint_id",
    "attempt_count",
    "last_status_code",
    "last_error",
    "next_attempt_at",
  ],
  "responses list": ["id", "tenant_id", "created_at", "status", "error", "model", "usage", "previous_response_id"],
  // Across tenants (no <tenant>): whose each one is.
  "webhook deliveries all": [
    "id",
    "tenant_id",
    "created_at",
    "status",
    "response_id",
    "attempt_count",
    "last_status_code",
    "last_error",
    "next_attempt_at",
  ],
  shards: ["id", "weight", "migration", "migrated", "error", "moving_out"],
  routes: ["model", "protocol", "host", "api_key", "compaction", "reasoning_input", "strip_prefix"],
};

/** Longest cell: a table stays readable; --json has everything. */
const MAX_CELL = 60;

function text(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return value.toString();
  return JSON.stringify(value) ?? "";
}

function cell(field: string, value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (field.endsWith("_at") && typeof value === "number")
    return new Date(value * 1000).toISOString().replace(/\.000Z$/, "Z");
  if (Array.isArray(value)) return value.join(",");
  if (field === "cost" && typeof value === "object") {
    const cost = value as Row;
    const unpriced = typeof cost.unpriced_tokens === "number" ? ` (${text(cost.unpriced_tokens)} tokens unpriced)` : "";
    return `$${text(cost.total ?? "?")}${unpriced}`;
  }
  // A Response's `error`: its code (the message is in `responses show` and --json).
  if (field === "error" && typeof value === "object") return text((value as Row).code ?? "?");
  if (field === "usage" && typeof value === "object") {
    const usage = value as Row;
    return `${text(usage.input_tokens ?? "?")} in / ${text(usage.output_tokens ?? "?")} out`;
  }
  const shown = text(value);
  return shown.length > MAX_CELL ? `${shown.slice(0, MAX_CELL - 1)}…` : shown;
}

function table(rows: Row[], columns: string[]): string {
  if (rows.length === 0) return "(none)";
  const cells = [columns, ...rows.map((row) => columns.map((column) => cell(column, row[column])))];
  const widths = columns.map((_, index) => Math.max(...cells.map((line) => (line[index] as string).length)));
  return cells
    .map((line) =>
      line
        .map((text, index) => text.padEnd(widths[index] as number))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function fields(object: Row): string {
  const names = Object.keys(object).filter((name) => name !== "object");
  const width = Math.max(...names.map((name) => name.length));
  return names.map((name) => `${name.padEnd(width)}  ${cell(name, object[name])}`).join("\n");
}

export function render(command: string, answer: Row, json: boolean): string {
  if (json) return JSON.stringify(answer, null, 2);
  if (command === "status") return statusText(answer);
  if (command === "config") return configurationText(answer);
  const data = answer.data;
  if (Array.isArray(data)) {
    const rows = data as Row[];
    // Every field of any row: a usage row has `cost` only when MODEL_PRICES prices its model.
    const columns =
      COLUMNS[command] ?? [...new Set(rows.flatMap((row) => Object.keys(row)))].filter((name) => name !== "object");
    const more = answer.has_more === true ? `\n(more: --after ${String(answer.last_id)})` : "";
    const range = typeof answer.start_date === "string" ? `${answer.start_date} to ${String(answer.end_date)}\n` : "";
    return `${range}${table(rows, columns)}${more}`;
  }
  if (command === "responses show") {
    const { output, ...rest } = answer;
    const text = Array.isArray(output) ? outputText(output as Row[]) : "";
    return `${fields(rest)}${text === "" ? "" : `\n\n${text}`}`;
  }
  return fields(answer);
}

/** The assistant's text, as the SDK's `output_text` joins it. */
function outputText(output: Row[]): string {
  return output
    .flatMap((item) => (Array.isArray(item.content) ? (item.content as Row[]) : []))
    .filter((part) => part.type === "output_text" && typeof part.text === "string")
    .map((part) => part.text as string)
    .join("");
}

/** `status`: one titled table per part, empty ones as "(none)", a part with more rows says so. */
function statusText(answer: Row): string {
  const before = new Date(Number(answer.created_before) * 1000).toISOString().replace(/\.000Z$/, "Z");
  const shards = answer.shards as Row;
  const moving = (shard: Row) =>
    ((shard.moving_out ?? []) as Row[]).map((move) => `${text(move.tenant_id)}->${text(move.moving_to)}`).join(" ");
  const section = (title: string, list: Row, columns: string[]) => {
    const more = list.has_more === true ? "\n(more: list them with the command above, --after its last id)" : "";
    return `${title}\n${table(list.data as Row[], columns)}${more}`;
  };
  return [
    section(
      "Shards (migration, tenants moving off):",
      { ...shards, data: (shards.data as Row[]).map((shard) => ({ ...shard, moving_out: moving(shard) || null })) },
      COLUMNS.shards as string[],
    ),
    section(
      `Running, created before ${before} (responses list --status in_progress):`,
      answer.in_progress as Row,
      COLUMNS["responses list"] as string[],
    ),
    section(
      `Queued, created before ${before} (responses list --status queued):`,
      answer.queued as Row,
      COLUMNS["responses list"] as string[],
    ),
    section(
      "Webhook deliveries being retried (webhook deliveries --status pending):",
      answer.pending_deliveries as Row,
      COLUMNS["webhook deliveries all"] as string[],
    ),
    section(
      "Webhook deliveries given up, newest (webhook deliveries --status failed):",
      answer.failed_deliveries as Row,
      COLUMNS["webhook deliveries all"] as string[],
    ),
  ].join("\n\n");
}

/** `config`: a setting per line, then what is wrong with them, then the routes. */
function configurationText(answer: Row): string {
  const settings = fields(answer.settings as Row);
  const problems = (answer.problems as Row[]).map((problem) => `- ${text(problem.message)}`);
  const misspelt = (answer.misspelt as Row[]).map(
    (mistyped) => `- ${text(mistyped.name)} is not a setting (ignored); did you mean ${text(mistyped.meant)}?`,
  );
  const wrong = [...problems, ...misspelt];
  const routesProblem = typeof answer.routes_problem === "string" ? `\nUPSTREAM_ROUTES: ${answer.routes_problem}` : "";
  return [
    `Settings:\n${settings}`,
    `Problems:\n${wrong.length === 0 ? "(none)" : wrong.join("\n")}`,
    `Routes (UPSTREAM_ROUTES; other models go to UPSTREAM_BASE_URL):\n${table(answer.routes as Row[], COLUMNS.routes as string[])}${routesProblem}`,
    `A run still queued or in_progress after ${text(answer.stuck_after_seconds)} s is stuck (MAX_RUN_SECONDS ${text(answer.max_run_seconds)} and the sweep's margin).`,
  ].join("\n\n");
}
