// Parsing of literal IP addresses (no names, no DNS): IPv4 dotted quads and IPv6 groups. Used by the
// webhook target check (which addresses are private) and the rate limiter (a client's address).

/** A dotted-quad IPv4 address as a 32-bit number, or null. */
export function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((part) => !/^\d{1,3}$/.test(part) || Number(part) > 255)) return null;
  return parts.reduce((value, part) => ((value << 8) | Number(part)) >>> 0, 0);
}

/** The eight 16-bit groups of an IPv6 literal (without brackets), or null. */
export function parseIpv6(text: string): number[] | null {
  let body = text;
  const tail: number[] = [];
  const dotted = /(?:^|:)(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (dotted) {
    const v4 = parseIpv4(dotted[1] as string);
    if (v4 === null) return null;
    tail.push(v4 >>> 16, v4 & 0xffff);
    body = body.slice(0, body.length - (dotted[1] as string).length);
    if (body.endsWith(":") && !body.endsWith("::")) body = body.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const read = (half: string) => (half === "" ? [] : half.split(":").map(hexGroup));
  const head = read(halves[0] ?? "");
  const rest = read(halves[1] ?? "");
  const missing = 8 - tail.length - head.length - rest.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...rest, ...tail];
  return groups.every((group) => group >= 0) ? groups : null;
}

const hexGroup = (group: string): number => (/^[0-9a-f]{1,4}$/i.test(group) ? parseInt(group, 16) : -1);
