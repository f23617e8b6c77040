import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { fetch as forward } from "miniflare";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: { UPSTREAM_BASE_URL: `http://127.0.0.1:${inject<number>("upstreamPort")}` },
        outboundService: (request) => {
          const url = new URL(request.url);
          if (url.hostname === "127.0.0.1") return forward(request);
          return new Response(`unmocked outbound request to ${url.host}`, { status: 599 });
        },
      },
    })),
  ],
  test: { globalSetup: ["./test/node/global-setup.ts"] },
});
