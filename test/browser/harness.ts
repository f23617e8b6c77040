// What the console's browser tests run against: the real Worker (wrangler.toml, its static assets,
// D1 and the Durable Object) under wrangler's test harness on loopback, in keys mode with an admin
// token, pointed at the mock upstream; and Debian's chromium driven by playwright-core with a fresh
// profile. Nothing reaches the network; `stop()` ends every process this started.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { createTestHarness } from "wrangler";
import { buildConsole } from "../../scripts/build-console.ts";
import { startMockUpstream } from "../node/mock-upstream.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const ADMIN_TOKEN = "adm-browser-SECRET-5d2e";

/** Prices for the usage view's dollars: the mock's `text:*` scenarios are priced, others are not. */
const MODEL_PRICES = JSON.stringify({ "text:*": { input_per_million: 2.5, output_per_million: 10 } });

export interface Stage {
  /** The gateway's origin, e.g. http://127.0.0.1:PORT. */
  origin: string;
  /** The mock upstream's origin (its /__mock and /__hooks controls). */
  mock: string;
  browser: BrowserContext;
  stop(): Promise<void>;
}

export async function startStage(): Promise<Stage> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does`);
  buildConsole();
  const upstream = await startMockUpstream();
  const mock = `http://127.0.0.1:${upstream.port}`;
  const server = createTestHarness({
    workers: [
      {
        configPath: join(import.meta.dirname, "..", "..", "wrangler.toml"),
        vars: {
          UPSTREAM_BASE_URL: `${mock}/v1`,
          AUTH_MODE: "keys",
          WEBHOOK_ALLOW_LOOPBACK: "true",
          WEBHOOK_RETRY_BASE_SECONDS: "1",
          MODEL_PRICES,
          // `routed/…` reaches the mock without its prefix, which then names the model otherwise (as
          // OpenAI names a dated snapshot): the list's model filter and its Model column differ.
          UPSTREAM_ROUTES: JSON.stringify([
            { model: "routed/*", base_url: `${mock}/v1`, protocol: "responses", strip_prefix: "routed/" },
          ]),
        },
        secrets: { ADMIN_TOKEN, UPSTREAM_API_KEY: "sk-upstream-browser" },
      },
    ],
  });
  const profile = mkdtempSync(join(tmpdir(), "console-chromium-"));
  let browser: BrowserContext | undefined;
  const stop = async () => {
    await browser?.close();
    await server.close();
    upstream.server.closeAllConnections();
    await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const { url } = await server.listen();
    await server.getWorker().applyD1Migrations("DB");
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1280, height: 860 },
    });
    return { origin: url.origin, mock, browser, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls observable state until `done` holds, or fails after `timeoutMs` naming `what`. */
export async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 300)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
