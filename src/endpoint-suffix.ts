// A base URL that already ends with an endpoint the gateway appends (`…/v1/chat/completions`, pasted
// from a server's docs) would be called as `…/chat/completions/chat/completions` and answer a 404
// that looks like the client's. Used by src/config.ts (UPSTREAM_BASE_URL) and src/upstream/routes.ts.

/** The paths the upstream protocols append to a base URL (src/upstream/*-protocol.ts), longest first. */
const ENDPOINTS = ["/chat/completions", "/responses"] as const;

/** The endpoint path `url`'s path ends with (a trailing slash ignored), or null. */
export function endpointSuffix(url: URL): string | null {
  const path = url.pathname.replace(/\/+$/, "").toLowerCase();
  return ENDPOINTS.find((endpoint) => path.endsWith(endpoint)) ?? null;
}
