// Which URLs may receive webhooks: https only, on port 443 or 8443 (http, on any port, only to
// loopback when WEBHOOK_ALLOW_LOOPBACK is true, for local development), never a literal private,
// link-local, loopback or unspecified address, nor an IPv6 address that tunnels to IPv4 (6to4,
// Teredo, local NAT64), nor a name that only resolves inside a network. A public name that resolves
// to a private address cannot be caught here (a Worker has no DNS API); the README says so. Used
// when an endpoint is created, for the deployment default, and again before every attempt.

import { invalidRequest, type ApiError } from "../errors.ts";
import { parseIpv4, parseIpv6 } from "../ip-address.ts";

/** Longest webhook URL accepted (a URL is a bounded identifier, not a payload). */
export const MAX_WEBHOOK_URL_CHARS = 2048;

/**
 * Ports a public target may use: HTTPS's own, and its common alternative. Any other port would let
 * an endpoint probe services that are not web servers (SSH, databases, mail) on public hosts, with
 * the delivery record telling whether each answered.
 */
const WEBHOOK_PORTS = new Set(["443", "8443"]);

/** Hosts that http may reach when loopback is allowed: exactly the brief's three spellings. */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Names that resolve only inside a network (RFC 6762, 6761, 8375 and the reserved `.internal`), a
 * Kubernetes service's `.svc` (`kubernetes.default.svc`; `.svc.cluster.local` is under `.local`),
 * and the names ICANN will never delegate because networks use them (`.corp`, `.home`, `.mail`).
 */
const PRIVATE_SUFFIXES = [
  ".local",
  ".localhost",
  ".internal",
  ".localdomain",
  ".home.arpa",
  ".lan",
  ".intranet",
  ".svc",
  ".corp",
  ".home",
  ".mail",
];

/** Special-use names public DNS never answers (RFC 6761, 7686, 9476): only a local resolver would. */
const SPECIAL_USE_SUFFIXES = [".test", ".invalid", ".example", ".onion", ".alt"];

type HostClass = { kind: "public" } | { kind: "loopback" } | { kind: "blocked"; why: string };

/** IPv4 ranges that are not public unicast: [first octets as a number, prefix length, what it is]. */
const IPV4_BLOCKED: [number, number, string][] = [
  [0x00000000, 8, "an unspecified address"],
  [0x0a000000, 8, "a private address"],
  [0x64400000, 10, "a shared (carrier-grade NAT) address"],
  [0x7f000000, 8, "a loopback address"],
  [0xa9fe0000, 16, "a link-local address"],
  [0xac100000, 12, "a private address"],
  [0xc0000000, 24, "a reserved address"],
  [0xc0000200, 24, "a documentation address"],
  [0xc0586300, 24, "a 6to4 relay address"],
  [0xc0a80000, 16, "a private address"],
  [0xc6120000, 15, "a benchmarking address"],
  [0xc6336400, 24, "a documentation address"],
  [0xcb007100, 24, "a documentation address"],
  [0xe0000000, 4, "a multicast address"],
  [0xf0000000, 4, "a reserved address"],
];

function classifyIpv4(address: number): HostClass {
  for (const [base, bits, why] of IPV4_BLOCKED) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if ((address & mask) >>> 0 === base)
      return why === "a loopback address" ? { kind: "loopback" } : { kind: "blocked", why };
  }
  return { kind: "public" };
}

function classifyIpv6(groups: number[]): HostClass {
  const [g0 = 0, g1 = 0, g2 = 0, , g4 = 0, g5 = 0, g6 = 0, g7 = 0] = groups;
  const embeddedV4 = ((g6 << 16) | g7) >>> 0;
  const zeroPrefix = (count: number) => groups.slice(0, count).every((group) => group === 0);
  if (zeroPrefix(8)) return { kind: "blocked", why: "an unspecified address" };
  if (zeroPrefix(7) && g7 === 1) return { kind: "loopback" };
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d)
  // and well-known NAT64 (64:ff9b::a.b.c.d) carry an IPv4 address: they are what it is.
  const nat64 = g0 === 0x64 && g1 === 0xff9b && groups.slice(2, 6).every((group) => group === 0);
  const mapped = zeroPrefix(5) && g5 === 0xffff;
  const translated = zeroPrefix(4) && g4 === 0xffff && g5 === 0;
  if (mapped || translated || zeroPrefix(6) || nat64) return classifyIpv4(embeddedV4);
  // Tunnels and translators to IPv4 whose IPv4 end this check cannot see or trust (a 6to4 address
  // embeds any IPv4 address, 169.254.169.254 included): none is a webhook receiver's address.
  if (g0 === 0x2002) return { kind: "blocked", why: "a 6to4 address" };
  if (g0 === 0x2001 && g1 === 0) return { kind: "blocked", why: "a Teredo address" };
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return { kind: "blocked", why: "a local-use NAT64 address" };
  if (g0 === 0x2001 && g1 === 2 && g2 === 0) return { kind: "blocked", why: "a benchmarking address" };
  if (g0 === 0x2001 && ((g1 & 0xfff0) === 0x10 || (g1 & 0xfff0) === 0x20))
    return { kind: "blocked", why: "an ORCHID address" };
  if (g0 === 0x3fff && (g1 & 0xf000) === 0) return { kind: "blocked", why: "a documentation address" };
  if ((g0 & 0xfe00) === 0xfc00) return { kind: "blocked", why: "a private (unique local) address" };
  if ((g0 & 0xffc0) === 0xfe80) return { kind: "blocked", why: "a link-local address" };
  if ((g0 & 0xffc0) === 0xfec0) return { kind: "blocked", why: "a site-local address" };
  if ((g0 & 0xff00) === 0xff00) return { kind: "blocked", why: "a multicast address" };
  if (g0 === 0x2001 && g1 === 0x0db8) return { kind: "blocked", why: "a documentation address" };
  if (g0 === 0x0100 && groups.slice(1, 4).every((group) => group === 0))
    return { kind: "blocked", why: "a discard address" };
  return { kind: "public" };
}

function classifyHost(hostname: string): HostClass {
  if (hostname.startsWith("[")) {
    const groups = parseIpv6(hostname.slice(1, -1));
    return groups === null ? { kind: "blocked", why: "not a valid IPv6 address" } : classifyIpv6(groups);
  }
  const v4 = parseIpv4(hostname);
  if (v4 !== null) return classifyIpv4(v4);
  const name = hostname.replace(/\.$/, "");
  // An empty label ('metadata..', 'a..b') is no DNS name, and would slip past the suffix and
  // single-label checks below; a resolver that tolerates one would reach an internal name.
  if (name.split(".").includes("")) return { kind: "blocked", why: "not a valid host name" };
  if (name === "localhost" || name.endsWith(".localhost")) return { kind: "loopback" };
  if (PRIVATE_SUFFIXES.some((suffix) => name.endsWith(suffix)))
    return { kind: "blocked", why: "a name that resolves only inside a private network" };
  if (SPECIAL_USE_SUFFIXES.some((suffix) => name.endsWith(suffix)))
    return { kind: "blocked", why: "a special-use name that public DNS never resolves" };
  if (!name.includes(".")) return { kind: "blocked", why: "not a public host name" };
  return { kind: "public" };
}

/** Why `raw` may not receive webhooks, or null when it may. */
export function refusalOf(raw: string, allowLoopback: boolean): string | null {
  if (raw.length > MAX_WEBHOOK_URL_CHARS) return `webhook URLs are at most ${MAX_WEBHOOK_URL_CHARS} characters`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "not a valid absolute URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return `webhook URLs must use https, not '${url.protocol.replace(/:$/, "")}'`;
  if (url.username !== "" || url.password !== "") return "webhook URLs must not carry credentials";
  const host = classifyHost(url.hostname);
  const loopbackAllowed = allowLoopback && LOOPBACK_HOSTS.has(url.hostname);
  if (host.kind === "loopback" && !loopbackAllowed)
    return `'${url.hostname}' is a loopback address (allowed only with WEBHOOK_ALLOW_LOOPBACK=true, for 127.0.0.1, localhost and ::1)`;
  if (host.kind === "blocked") return `'${url.hostname}' is ${host.why}; webhook targets must be public`;
  if (url.protocol === "http:" && !loopbackAllowed)
    return "webhook URLs must use https (http is allowed only to loopback with WEBHOOK_ALLOW_LOOPBACK=true)";
  if (url.port !== "" && !loopbackAllowed && !WEBHOOK_PORTS.has(url.port))
    return `webhook URLs must use port 443 or 8443, not port ${url.port}`;
  return null;
}

/** The URL, normalized, or a 400 naming `param` that says why it was refused. */
export function checkWebhookUrl(value: unknown, allowLoopback: boolean, param = "url"): string {
  if (typeof value !== "string")
    throw invalidRequest(`Invalid type for '${param}': expected a string.`, param, "invalid_type");
  const refusal = refusalOf(value, allowLoopback);
  if (refusal !== null) throw refusedTarget(param, refusal);
  return new URL(value).href;
}

export const refusedTarget = (param: string, refusal: string): ApiError =>
  invalidRequest(`Invalid '${param}': ${refusal}.`, param, "invalid_url");
