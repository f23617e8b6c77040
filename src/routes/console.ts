// The history console's files (built from src/console/ into the Worker's static assets, `ASSETS`):
// GET /console/... with a strict Content-Security-Policy, and GET / and /console sent to /console/.
// The Worker runs first for every path (`run_worker_first`), so no file is served without them.

import { invalidUrl } from "../errors";
import type { RouteContext } from "./context";

/** Same-origin scripts, styles and API calls only; no inline code, no frames, no forms posting elsewhere. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  // The page is small and changes with each deploy: revalidate (the asset ETag makes that a 304).
  "cache-control": "no-cache",
};

export async function serveConsole({ request, env }: RouteContext): Promise<Response> {
  const assets = (env as { ASSETS?: Fetcher }).ASSETS;
  if (assets === undefined) throw invalidUrl(request);
  const answer = await assets.fetch(request);
  if (answer.status === 404) {
    await answer.body?.cancel();
    throw invalidUrl(request);
  }
  const response = new Response(answer.body, answer);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.headers.set(name, value);
  return response;
}

export const redirectToConsole = (): Promise<Response> =>
  Promise.resolve(new Response(null, { status: 302, headers: { location: "/console/" } }));
