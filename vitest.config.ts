import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { configDefaults, defineConfig, type ViteUserConfig } from "vitest/config";
import { buildConsole } from "./scripts/build-console.ts";
import { heldBack } from "./test/node/quiet.ts";

/**
 * Outbound requests from the Worker reach loopback only; anything else fails the test (599). A
 * `.invalid` host (RFC 2606: never resolves) fails as workerd's fetch fails on a name that does
 * not resolve: it rejects with an opaque "internal error; reference = …" (seen under `wrangler dev`).
 */
const OUTBOUND_GUARD = `export default {
  fetch(request) {
    const { hostname, host } = new URL(request.url);
    if (hostname === "127.0.0.1" || hostname === "localhost") return fetch(request);
    if (hostname.endsWith(".invalid")) throw new Error("internal error; reference = test-dns-" + hostname);
    return new Response("unmocked outbound request to " + host, { status: 599 });
  },
};`;

/** The routing table the chat and mixed-deployment tests run against (see test/support/chat.ts). */
const routes = (mock: string) =>
  JSON.stringify([
    { model: "chat:*", base_url: `${mock}/v1`, protocol: "chat_completions", strip_prefix: "chat:" },
    {
      model: "alt/*",
      base_url: `${mock}/alt/v1`,
      protocol: "chat_completions",
      api_key_secret: "ALT_UPSTREAM_KEY",
      strip_prefix: "alt/",
    },
    {
      model: "alt-responses/*",
      base_url: `${mock}/alt/v1`,
      protocol: "responses",
      api_key_secret: "ALT_UPSTREAM_KEY",
      strip_prefix: "alt-responses/",
    },
    // A server that refuses OpenAI's newer fields (as Mistral refuses stream_options and max_completion_tokens,
    // and takes reasoning back only as thinking parts).
    {
      model: "strict:*",
      base_url: `${mock}/v1`,
      protocol: "chat_completions",
      strip_prefix: "strict:",
      request_fields: { stream_options: null, max_completion_tokens: "max_tokens" },
      reasoning_sent_as: "thinking",
    },
    // A server whose chat template requires user and assistant turns to alternate (Gemma's).
    {
      model: "alternating:*",
      base_url: `${mock}/v1`,
      protocol: "chat_completions",
      strip_prefix: "alternating:",
      alternate_roles: true,
    },
    // A thinking server that refuses a tool-calling turn without reasoning_content (DeepSeek, Kimi K2).
    {
      model: "thinking:*",
      base_url: `${mock}/v1`,
      protocol: "chat_completions",
      strip_prefix: "thinking:",
      reasoning_placeholder: " ",
    },
    // A Responses server without /responses/compact that its route says so of: the gateway compacts.
    {
      model: "gateway-compacts/*",
      base_url: `${mock}/v1`,
      protocol: "responses",
      strip_prefix: "gateway-compacts/",
      compaction: "gateway",
    },
    // vLLM's /responses, which refuses a reasoning item with encrypted_content (another model's).
    {
      model: "vllm/*",
      base_url: `${mock}/v1`,
      protocol: "responses",
      strip_prefix: "vllm/",
      reasoning_input: "drop_encrypted",
    },
    { model: "unkeyed/*", base_url: `${mock}/alt/v1`, protocol: "chat_completions", api_key_secret: "UNSET_KEY" },
    // Upstream faults (issue 6): a port nothing listens on (1, tcpmux, needs root) and a name that never resolves.
    { model: "refused/*", base_url: "http://127.0.0.1:1/v1", protocol: "responses", strip_prefix: "refused/" },
    { model: "nxdomain/*", base_url: "http://upstream.invalid/v1", protocol: "responses", strip_prefix: "nxdomain/" },
  ]);
/** The deployment default webhook secret in tests (32 bytes of 0x2a, base64). */
const TEST_WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 42).toString("base64")}`;

/**
 * The Workers suite's config with `D1_SHARDS` listing one shard (`DB`, vitest.config.ts) or three
 * (`DB`, `DB_2`, `DB_3`, vitest.shards.config.ts). Both bind all three, and `DB_REPLICA`, where the
 * lagging-replica double (test/support/lagging-replica.ts) keeps a replica's copy; every one gets
 * the migrations (test/support/apply-migrations.ts). The sharding tests list more shards themselves.
 */
export function gatewaySuite(shards: 1 | 3): () => Promise<ViteUserConfig> {
  return async () => {
    // The console is the Worker's static assets (wrangler.toml [assets]): built before the pool reads the config.
    buildConsole();
    const migrations = await readD1Migrations("./migrations");
    return {
      plugins: [
        cloudflareTest(({ inject }) => ({
          wrangler: { configPath: "./wrangler.toml" },
          miniflare: {
            d1Databases: { DB_2: "db-2-test", DB_3: "db-3-test", DB_REPLICA: "db-replica-test" },
            bindings: {
              TEST_MIGRATIONS: migrations,
              D1_SHARDS: shards === 1 ? "DB" : "DB,DB_2,DB_3",
              UPSTREAM_BASE_URL: `http://127.0.0.1:${inject("upstreamPort")}/v1`,
              UPSTREAM_FIRST_BYTE_TIMEOUT_MS: "3000",
              UPSTREAM_IDLE_TIMEOUT_MS: "3000",
              UPSTREAM_RETRIES: "2",
              // Running responses reach D1 every second, so tests see their batches and heartbeats quickly.
              RECORD_FLUSH_SECONDS: "1",
              // Small caps so tests can exceed them (defaults: 256 MiB and 32 MiB); storage.test.ts's
              // 2.5 MB answer (12.5 MB of events, 2.5 MB the largest) stays within them.
              UPSTREAM_MAX_BODY_BYTES: String(20 * 1024 * 1024),
              UPSTREAM_MAX_EVENT_BYTES: String(4 * 1024 * 1024),
              UPSTREAM_ROUTES: routes(`http://127.0.0.1:${inject("upstreamPort")}`),
              // Ends in letters no id has: a test looks for its last four anywhere in D1, among random hex ids.
              ALT_UPSTREAM_KEY: "sk-alt-route-secret-7f3zqx",
              // The key of the compaction items the gateway makes for chat upstreams (issue 14).
              COMPACTION_SECRET: "test-compaction-secret-0123456789abcdef",
              // Webhooks (issue 3): the deployment default goes to a mock receiver on loopback, and
              // retries start after 0.5-1 s so tests see several attempts quickly.
              WEBHOOK_URL: `http://127.0.0.1:${inject("upstreamPort")}/__hooks/ok/default`,
              WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
              WEBHOOK_ALLOW_LOOPBACK: "true",
              WEBHOOK_RETRY_BASE_SECONDS: "1",
            },
            // The suite sends far more requests per key than a client would: the real limiter with a
            // limit no test reaches, and a strict one the rate-limit tests swap in.
            ratelimits: {
              RATE_LIMITER: { namespace_id: "1001", simple: { limit: 1_000_000, period: 60 } },
              ADDRESS_RATE_LIMITER: { namespace_id: "1003", simple: { limit: 1_000_000, period: 60 } },
              STRICT_RATE_LIMITER: { namespace_id: "1002", simple: { limit: 3, period: 60 } },
            },
            // Miniflare's own local Analytics Engine dataset (it writes nowhere): metrics.test.ts binds it
            // as METRICS for one call; the suite's env has no METRICS, as a deployment without one.
            analyticsEngineDatasets: { LOCAL_METRICS: { dataset: "responses_gateway_test" } },
            outboundService: "outbound-guard",
            workers: [
              { name: "outbound-guard", modules: true, compatibilityDate: "2026-11-01", script: OUTBOUND_GUARD },
            ],
          },
        })),
      ],
      test: {
        name: shards === 1 ? "one shard" : "three shards",
        globalSetup: ["./test/node/global-setup.ts"],
        // The console's browser tests, the outside suites and the tools' Node tests run in Node with
        // their own configs (vitest.browser.config.ts, vitest.outside.config.ts).
        exclude: [
          ...configDefaults.exclude,
          "test/browser/**",
          "test/outside/**",
          // Node tests of the tools (the admin CLI's arguments: workerd has no node:util parseArgs).
          "test/node/*.test.ts",
          // The admin CLI's D1 target reads and writes `DB` alone (docs/sharding.md): one shard only.
          ...(shards === 1 ? [] : ["test/e2e/admin-cli.test.ts"]),
        ],
        setupFiles: ["./test/support/apply-migrations.ts"],
        testTimeout: 20_000,
        // The Worker's console output a test provoked on purpose is held back (test/node/quiet.ts).
        onConsoleLog: (log: string) => (heldBack(log) ? false : undefined),
      },
    };
  };
}

export default defineConfig(gatewaySuite(1));
