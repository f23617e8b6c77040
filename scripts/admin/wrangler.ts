// Runs the admin CLI's D1 statements with `wrangler d1 execute DB` (the local D1 of `npm run dev`,
// or the deployed one with --remote), all of a command's statements in one wrangler run.

import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type { Execute } from "./d1.ts";
import { CliError, type Row } from "./queries.ts";

export interface D1Target {
  remote: boolean;
  persistTo?: string;
}

/**
 * Wrangler's own entry, run with this Node (not through npx, which adds seconds to every command).
 * Found when first run, not on import: the CLI's tests load this module in workerd, which cannot resolve it.
 */
const wranglerEntry = () =>
  join(dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin", "wrangler.js");

function migrationsHint(target: D1Target): string {
  const where = target.remote
    ? "--remote"
    : `--local${target.persistTo === undefined ? "" : ` --persist-to ${target.persistTo}`}`;
  return `The database has no tables yet: run the migrations first, npx wrangler d1 migrations apply DB ${where}${
    target.remote ? "." : " (npm run dev does it for the default local D1)."
  }`;
}

const run = promisify(execFile);

export const wranglerExecute =
  (target: D1Target): Execute =>
  async (statements) => {
    const args = [wranglerEntry(), "d1", "execute", "DB", target.remote ? "--remote" : "--local", "--json"];
    if (target.persistTo !== undefined) args.push("--persist-to", target.persistTo);
    args.push("--command", statements.map((statement) => statement.trim()).join(";\n"));
    let output: string;
    try {
      ({ stdout: output } = await run(process.execPath, args, {
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      }));
    } catch (error) {
      const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
      if (/no such table/.test(stdout + stderr)) throw new CliError(migrationsHint(target));
      const reason = /"text":\s*"([^"]*)"/.exec(stdout)?.[1] ?? (stderr.trim() || stdout.trim() || String(error));
      throw new CliError(`wrangler d1 execute failed: ${reason}`);
    }
    const parsed = JSON.parse(output) as { results?: Row[] }[];
    return parsed.map((result) => result.results ?? []);
  };
