// Settings: defaults, the values each one allows, and the message a wrong one gives (the setting,
// its value, what is allowed; a secret only by its length), with what code that cannot refuse runs on.

import { describe, expect, it } from "vitest";
import { configurationFields, misspeltSettings, readConfig, refuseIfMisconfigured } from "../src/config";
import { ApiError } from "../src/errors";

const configOf = (vars: Record<string, unknown>) => readConfig(vars as never);
const problemsOf = (vars: Record<string, unknown>) => configOf(vars).problems.map((problem) => problem.message);

describe("readConfig", () => {
  it("uses the documented defaults when nothing is set, blank counting as unset", () => {
    for (const vars of [{}, { UPSTREAM_BASE_URL: "", AUTH_MODE: " ", RETENTION_DAYS: "" }]) {
      const config = configOf(vars);
      expect(config.problems).toEqual([]);
      expect(config).toMatchObject({
        upstream: { baseUrl: "https://api.openai.com/v1", protocol: "responses", apiKey: null },
        authMode: "passthrough",
        adminToken: null,
        maxBodyBytes: 16 * 1024 * 1024,
        firstByteTimeoutMs: 120_000,
        idleTimeoutMs: 300_000,
        upstreamRetries: 2,
        maxRunMs: 3_600_000,
        maxBackgroundRuns: 100,
        retentionDays: 30,
        rateLimitPeriodSeconds: 60,
        rateLimitRequests: 600,
        addressRateLimitRequests: 1200,
        recordFlushMs: 10_000,
        disconnectGraceMs: 25_000,
        recordStoreFalse: false,
        webhooks: { defaultUrl: null, defaultSecret: null, allowLoopback: false, retryBaseMs: 5000 },
      });
    }
  });

  it("reads valid values, including unquoted numbers and booleans from [vars]", () => {
    const config = configOf({
      UPSTREAM_BASE_URL: "http://127.0.0.1:11434/v1/",
      UPSTREAM_PROTOCOL: "chat_completions",
      UPSTREAM_API_KEY: "sk-upstream-key\n",
      AUTH_MODE: "keys",
      MAX_RUN_SECONDS: 60,
      RETENTION_DAYS: "0",
      RATE_LIMIT_PERIOD_SECONDS: 10,
      RATE_LIMIT_REQUESTS: 300,
      WEBHOOK_ALLOW_LOOPBACK: true,
      RECORD_STORE_FALSE: "on",
    });
    expect(config.problems).toEqual([]);
    expect(config.upstream).toEqual({
      baseUrl: "http://127.0.0.1:11434/v1",
      protocol: "chat_completions",
      // A pasted trailing newline is dropped, as an HTTP header would drop it.
      apiKey: "sk-upstream-key",
      compaction: "upstream",
      reasoningInput: "keep",
    });
    expect(config).toMatchObject({
      authMode: "keys",
      maxRunMs: 60_000,
      retentionDays: 0,
      rateLimitPeriodSeconds: 10,
      rateLimitRequests: 300,
      recordStoreFalse: true,
    });
    expect(config.webhooks.allowLoopback).toBe(true);
  });

  it.each([
    ["UPSTREAM_PROTOCOL", "chat", "UPSTREAM_PROTOCOL is 'chat'; allowed: 'responses' or 'chat_completions'."],
    ["AUTH_MODE", "key", "AUTH_MODE is 'key'; allowed: 'passthrough' or 'keys'."],
    ["UPSTREAM_COMPACTION", "off", "UPSTREAM_COMPACTION is 'off'; allowed: 'upstream' or 'gateway'."],
    [
      "UPSTREAM_REASONING_INPUT",
      "strip",
      "UPSTREAM_REASONING_INPUT is 'strip'; allowed: 'keep' or 'drop_encrypted' or 'raw_text_only' or 'drop'.",
    ],
    [
      "UPSTREAM_BASE_URL",
      "127.0.0.1:8790/v1",
      "UPSTREAM_BASE_URL is '127.0.0.1:8790' (it has no scheme); allowed: an absolute http:// or https:// URL without credentials, query or fragment, such as https://api.openai.com/v1.",
    ],
    [
      "UPSTREAM_BASE_URL",
      "localhost:11434/v1",
      "UPSTREAM_BASE_URL is 'localhost:11434' (it has no scheme); allowed: an absolute http:// or https:// URL without credentials, query or fragment, such as https://api.openai.com/v1.",
    ],
    [
      "UPSTREAM_BASE_URL",
      "https://user:sk-secret@example.com/v1",
      "UPSTREAM_BASE_URL is 'example.com' (a key belongs in UPSTREAM_API_KEY); allowed: an absolute http:// or https:// URL without credentials, query or fragment, such as https://api.openai.com/v1.",
    ],
    [
      "UPSTREAM_BASE_URL",
      "http://127.0.0.1:11434/v1/chat/completions",
      "UPSTREAM_BASE_URL is '127.0.0.1:11434' (its path ends with /chat/completions, which the gateway appends itself); allowed: an absolute http:// or https:// URL without credentials, query or fragment, such as https://api.openai.com/v1.",
    ],
    [
      "UPSTREAM_BASE_URL",
      "https://api.openai.com/v1/responses/",
      "UPSTREAM_BASE_URL is 'api.openai.com' (its path ends with /responses, which the gateway appends itself); allowed: an absolute http:// or https:// URL without credentials, query or fragment, such as https://api.openai.com/v1.",
    ],
    ["UPSTREAM_RETRIES", "two", "UPSTREAM_RETRIES is 'two'; allowed: an integer from 0 to 10 (retries)."],
    [
      "UPSTREAM_IDLE_TIMEOUT_MS",
      "30s",
      "UPSTREAM_IDLE_TIMEOUT_MS is '30s'; allowed: an integer from 1 to 3600000 (milliseconds).",
    ],
    ["MAX_REQUEST_BYTES", "-1", "MAX_REQUEST_BYTES is '-1'; allowed: an integer from 1 to 33554432 (bytes)."],
    [
      "RETENTION_DAYS",
      "never",
      "RETENTION_DAYS is 'never'; allowed: an integer from 0 to 36500 (days; 0 keeps responses forever).",
    ],
    ["RATE_LIMIT_PERIOD_SECONDS", "30", "RATE_LIMIT_PERIOD_SECONDS is '30'; allowed: '10' or '60'."],
    [
      "RATE_LIMIT_REQUESTS",
      "abc",
      "RATE_LIMIT_REQUESTS is 'abc'; allowed: an integer from 1 to 1000000000 (requests a period).",
    ],
    ["WEBHOOK_ALLOW_LOOPBACK", "yes", "WEBHOOK_ALLOW_LOOPBACK is 'yes'; allowed: 'true' or 'false'."],
    ["RECORD_STORE_FALSE", "true", "RECORD_STORE_FALSE is 'true'; allowed: 'on' or 'off'."],
  ])("refuses %s=%j, naming the setting, its value and what is allowed", (setting, value, message) => {
    const config = configOf({ [setting]: value });
    expect(config.problems).toEqual([expect.objectContaining({ setting, message })]);
  });

  it("names a wrong secret only by its length", () => {
    const messages = problemsOf({
      UPSTREAM_API_KEY: "sk-live key-with-a-space",
      ADMIN_TOKEN: "short",
      WEBHOOK_URL: "https://hooks.example.com/in",
      WEBHOOK_SECRET: "whsec_not-base64!",
    });
    expect(messages).toEqual([
      "UPSTREAM_API_KEY is (secret, 24 characters); allowed: without spaces or control characters.",
      "ADMIN_TOKEN is (secret, 5 characters); allowed: at least 16 characters, without spaces or control characters.",
      "WEBHOOK_SECRET is (secret, 17 characters); allowed: a Standard Webhooks secret: 'whsec_' followed by base64 of 24 to 64 bytes.",
    ]);
    for (const message of messages) expect(message).not.toMatch(/live key|short|not-base64/);
  });

  it("checks settings against each other: WEBHOOK_URL needs WEBHOOK_SECRET and a public https target", () => {
    expect(problemsOf({ WEBHOOK_URL: "https://hooks.example.com/in" })).toEqual([
      "WEBHOOK_SECRET is not set, but WEBHOOK_URL is; allowed: a Standard Webhooks secret: 'whsec_' followed by base64 of 24 to 64 bytes.",
    ]);
    expect(problemsOf({ WEBHOOK_URL: "http://127.0.0.1:9000/hooks" })).toEqual([
      "WEBHOOK_URL is '127.0.0.1:9000' ('127.0.0.1' is a loopback address (allowed only with WEBHOOK_ALLOW_LOOPBACK=true, for 127.0.0.1, localhost and ::1)); allowed: an https:// URL of a public host.",
    ]);
    const secret = `whsec_${btoa("k".repeat(32))}`;
    expect(
      problemsOf({
        WEBHOOK_URL: "http://127.0.0.1:9000/hooks",
        WEBHOOK_SECRET: secret,
        WEBHOOK_ALLOW_LOOPBACK: "true",
      }),
    ).toEqual([]);
  });

  it("falls back to what is safe where code cannot refuse: nobody let in, no history deleted", () => {
    const config = configOf({ AUTH_MODE: "key", RETENTION_DAYS: "thirty", UPSTREAM_RETRIES: "many" });
    expect(config.authMode).toBeNull();
    expect(config.retentionDays).toBe(0);
    expect(config.upstreamRetries).toBe(2);
  });

  it("refuses only the requests a wrong setting affects, with a 500 that stops the SDK's retries", () => {
    const upstreamOnly = configOf({ UPSTREAM_PROTOCOL: "chat" });
    expect(() => refuseIfMisconfigured(upstreamOnly, "every request")).not.toThrow();
    expect(() => refuseIfMisconfigured(upstreamOnly, "the admin API")).not.toThrow();
    let refusal: unknown;
    try {
      refuseIfMisconfigured(upstreamOnly, "upstream calls");
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ApiError);
    const error = refusal as ApiError;
    expect([error.status, error.headers]).toEqual([500, { "x-should-retry": "false" }]);
    expect(error.body().error).toEqual({
      message:
        "The gateway is misconfigured: UPSTREAM_PROTOCOL is 'chat'; allowed: 'responses' or 'chat_completions'. Its operator must correct this.",
      type: "server_error",
      param: null,
      code: "gateway_misconfigured",
    });
    const everywhere = configOf({ AUTH_MODE: "key" });
    for (const scope of ["every request", "upstream calls", "the admin API"] as const)
      expect(() => refuseIfMisconfigured(everywhere, scope)).toThrow(/AUTH_MODE is 'key'/);
  });

  it.each([
    ["UPSTREAM_COMPACTION", "gateway"],
    ["UPSTREAM_REASONING_INPUT", "drop"],
  ])("refuses %s=%s over UPSTREAM_PROTOCOL=chat_completions, as a chat route refuses the option", (name, value) => {
    const config = configOf({ UPSTREAM_PROTOCOL: "chat_completions", [name]: value });
    expect(config.problems).toEqual([
      {
        setting: name,
        scope: "upstream calls",
        message: `${name} is '${value}', but UPSTREAM_PROTOCOL is 'chat_completions'; allowed: only with UPSTREAM_PROTOCOL=responses.`,
      },
    ]);
    expect(() => refuseIfMisconfigured(config, "upstream calls")).toThrow(new RegExp(`${name} is '${value}'`));
  });

  it("reports a COMPACTION_SECRET shorter than 32 characters at once, refusing only compactions", () => {
    const config = configOf({ COMPACTION_SECRET: "short-compaction-secret" });
    expect(config.problems).toEqual([
      {
        setting: "COMPACTION_SECRET",
        scope: "compactions",
        message:
          "COMPACTION_SECRET is (secret, 23 characters); allowed: at least 32 characters, without spaces or control characters.",
      },
    ]);
    // Kept, so the compaction's 503 (src/compaction/seal.ts) says it is short, not unset.
    expect(config.compactionSecret).toBe("short-compaction-secret");
    for (const scope of ["every request", "upstream calls", "the admin API", "WebSocket upgrades"] as const)
      expect(() => refuseIfMisconfigured(config, scope)).not.toThrow();
    expect(configOf({ COMPACTION_SECRET: "c".repeat(32) }).problems).toEqual([]);
  });
});

describe("misspeltSettings", () => {
  it("names a var that looks like a setting mistyped, with the setting meant, and leaves the operator's own vars alone", () => {
    expect(
      misspeltSettings({
        AUTH_MODES: "keys",
        upstream_base_url: "http://127.0.0.1:9/v1",
        "RETENTION-DAYS": "30",
        UPSTREAM_PROTOCOL: "responses",
        GROQ_KEY: "gsk_x",
        UPSTREAM_API_KEY_2: "sk-second",
        UPSTREAM_ROUTES: JSON.stringify([
          { model: "b/*", base_url: "http://b/v1", api_key_secret: "UPSTREAM_API_KEY_2" },
        ]),
        DB: {},
      }),
    ).toEqual([
      ["AUTH_MODES", "AUTH_MODE"],
      ["upstream_base_url", "UPSTREAM_BASE_URL"],
      ["RETENTION-DAYS", "RETENTION_DAYS"],
    ]);
  });
});

describe("configurationFields", () => {
  it("shows every effective value, URLs by their host only, and no secret", () => {
    const fields = configurationFields({
      UPSTREAM_BASE_URL: "http://127.0.0.1:8790/v1",
      UPSTREAM_API_KEY: "sk-upstream-SECRET-value",
      ADMIN_TOKEN: "adm-SECRET-token-0123456789",
      WEBHOOK_URL: "https://hooks.example.com/services/T0KEN-SECRET-path",
      RATE_LIMIT_REQUESTS: 300,
      UPSTREAM_ROUTES: '[{"model":"x/*","base_url":"https://internal.example/v1","protocol":"responses"}]',
    });
    expect(fields).toMatchObject({
      UPSTREAM_BASE_URL: "127.0.0.1:8790",
      UPSTREAM_PROTOCOL: "(default responses)",
      UPSTREAM_API_KEY: "(set)",
      ADMIN_TOKEN: "(set)",
      WEBHOOK_URL: "hooks.example.com",
      WEBHOOK_SECRET: "(unset)",
      RATE_LIMIT_REQUESTS: "300",
      UPSTREAM_ROUTES: "(set)",
    });
    expect(configurationFields({}).UPSTREAM_BASE_URL).toBe("(default api.openai.com)");
    // A blank value is unset for the gateway, so the line must not call it set.
    expect(configurationFields({ ADMIN_TOKEN: " \n", AUTH_MODE: "  " })).toMatchObject({
      ADMIN_TOKEN: "(unset)",
      AUTH_MODE: "(default passthrough)",
    });
    expect(JSON.stringify(fields)).not.toMatch(/SECRET-|T0KEN|internal\.example|\/v1/);
  });

  it("names a wrong URL setting by its host in the problem, never its path", () => {
    const messages = problemsOf({ WEBHOOK_URL: "http://hooks.example.com/services/T0KEN-path" });
    expect(messages[0]).toMatch(/^WEBHOOK_URL is 'hooks\.example\.com' \(webhook URLs must use https/);
    expect(problemsOf({ UPSTREAM_BASE_URL: "api.example.com/T0KEN/v1" })[0]).toMatch(
      /^UPSTREAM_BASE_URL is 'api\.example\.com' \(it has no scheme\)/,
    );
    for (const message of [...messages, ...problemsOf({ UPSTREAM_BASE_URL: "api.example.com/T0KEN/v1" })])
      expect(message).not.toContain("T0KEN");
  });
});
