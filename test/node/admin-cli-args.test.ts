// The admin CLI's command line, in Node as `npm run admin` runs it (workerd has no node:util
// parseArgs): durations for times, options a command takes, and what each asks the admin API, with
// a fetch that records the URLs and answers an empty list.

import { describe, expect, it } from "vitest";
import { run } from "../../scripts/admin/cli.ts";
import { CliError } from "../../scripts/admin/queries.ts";

const ADMIN_TOKEN = "test-admin-token";

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CliError) return error.message;
    throw error;
  }
  throw new Error("expected a CliError");
}

describe("the admin CLI's arguments", () => {
  /** Runs the CLI against --url with a fetch that records each URL called and answers an empty list. */
  async function called(...argv: string[]): Promise<URL[]> {
    const urls: URL[] = [];
    const send = (input: RequestInfo | URL) => {
      urls.push(new URL(input instanceof Request ? input.url : input));
      return Promise.resolve(Response.json({ object: "list", data: [], has_more: false }));
    };
    await run([...argv, "--url", "http://gateway.test"], { ADMIN_TOKEN }, send);
    return urls;
  }
  const refused = (...argv: string[]) => refusal(run([...argv, "--url", "http://gateway.test"], { ADMIN_TOKEN }));

  it("takes a time before now as a duration: --older-than for created_before, --since for created_after", async () => {
    const now = Math.floor(Date.now() / 1000);
    const [listed] = await called("responses", "list", "--status", "in_progress", "--older-than", "65m");
    expect(Number(listed?.searchParams.get("created_before"))).toBeGreaterThanOrEqual(now - 65 * 60);
    expect(Number(listed?.searchParams.get("created_before"))).toBeLessThanOrEqual(now - 65 * 60 + 5);
    for (const [duration, seconds] of [
      ["30s", 30],
      ["2h", 7200],
      ["3d", 259_200],
    ] as const) {
      const [url] = await called("responses", "list", "--since", duration);
      expect(now - Number(url?.searchParams.get("created_after"))).toBeGreaterThanOrEqual(seconds - 5);
      expect(now - Number(url?.searchParams.get("created_after"))).toBeLessThanOrEqual(seconds);
    }
    const [absolute] = await called("responses", "list", "--created-before", "1700000000");
    expect(absolute?.searchParams.get("created_before")).toBe("1700000000");
  });

  it("refuses a duration it cannot read, or a time given twice, naming the option", async () => {
    for (const bad of ["10", "10x", "+5m", "1.5h", "m", "10 m", "1000000h"])
      expect(await refused("responses", "list", "--older-than", bad)).toBe(
        `--older-than takes a duration as a whole number and s, m, h or d (30m, 2h, 7d), not '${bad}'.`,
      );
    expect(await refused("responses", "list", "--since", "1w")).toMatch(/^--since takes a duration/);
    expect(await refused("status", "--older-than", "an hour")).toMatch(/^--older-than takes a duration/);
    expect(await refused("responses", "list", "--older-than", "1h", "--created-before", "1700000000")).toBe(
      "Give --older-than or --created-before, not both.",
    );
    expect(await refused("responses", "list", "--created-before", "10m")).toBe(
      "--created-before takes unix seconds, not '10m'.",
    );
    expect(await refused("tenant", "list", "--older-than", "1h")).toBe(
      "--older-than is not an option of 'tenant list'. See --help.",
    );
    expect(await refused("responses", "list", "--older", "1h")).toBe(
      "Unknown option --older (did you mean --older-than?). See --help.",
    );
  });

  it("lists every tenant's deliveries of one --status without a <tenant>, and refuses it without one", async () => {
    const [url] = await called("webhook", "deliveries", "--status", "pending", "--limit", "5");
    expect(`${url?.pathname}${url?.search}`).toBe("/admin/webhook_deliveries?status=pending&limit=5");
    expect(await refused("webhook", "deliveries")).toMatch(/^Without a <tenant>, give --status pending/);
    expect(await refused("webhook", "deliveries", "--status", "lost")).toMatch(/^--status takes pending, delivered/);
  });
});
