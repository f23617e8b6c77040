// The host (and port) of a URL, remembered per isolate: a create names its upstream's host on its request
// line, its response line and for its call's errors, and parsing the same base URL each time cost about
// 0.05 ms of CPU a request (V8 profile). Used by hostOf in src/observe/log.ts and src/upstream/errors.ts.

/** URLs remembered at most; past it the memory starts again (webhook URLs are the tenants', so unbounded). */
const MAX_REMEMBERED = 256;
/** Longer URLs are parsed every time rather than kept. */
const MAX_REMEMBERED_CHARS = 2_048;

const hosts = new Map<string, string | null>();

/** `new URL(url).host`, or null when `url` is not a URL. */
export function urlHost(url: string): string | null {
  const known = hosts.get(url);
  if (known !== undefined) return known;
  let host: string | null;
  try {
    host = new URL(url).host;
  } catch {
    host = null;
  }
  if (url.length <= MAX_REMEMBERED_CHARS) {
    if (hosts.size >= MAX_REMEMBERED) hosts.clear();
    hosts.set(url, host);
  }
  return host;
}
