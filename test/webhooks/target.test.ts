import { describe, expect, it } from "vitest";
import { checkWebhookUrl, refusalOf } from "../../src/webhooks/target";

describe("webhook targets", () => {
  it.each([
    "https://hooks.example.com/openai",
    "https://hooks.example.com:8443/a?b=c",
    "https://93.184.216.34/hook",
    "https://[2606:4700::6810:85e5]/hook",
    "https://example.com./trailing-dot",
    "https://[2001:4860:4860::8888]/dns",
    "https://[64:ff9b::5db8:d822]/nat64-of-a-public-address",
  ])("accepts the public https URL %s", (url) => {
    expect(refusalOf(url, false)).toBeNull();
  });

  it.each([
    ["http://hooks.example.com/x", "must use https"],
    ["ftp://hooks.example.com/x", "must use https"],
    ["not a url", "not a valid absolute URL"],
    ["/relative/path", "not a valid absolute URL"],
    ["https://user:pw@hooks.example.com/x", "credentials"],
    ["https://10.1.2.3/x", "private address"],
    ["https://172.16.0.1/x", "private address"],
    ["https://172.31.255.255/x", "private address"],
    ["https://192.168.1.1/x", "private address"],
    ["https://100.64.0.1/x", "shared"],
    ["https://169.254.169.254/latest/meta-data", "link-local"],
    ["https://0.0.0.0/x", "unspecified"],
    ["https://127.0.0.1/x", "loopback"],
    ["https://127.1/x", "loopback"],
    ["https://0x7f000001/x", "loopback"],
    ["https://2130706433/x", "loopback"],
    ["https://224.0.0.1/x", "multicast"],
    ["https://[::1]/x", "loopback"],
    ["https://[::]/x", "unspecified"],
    ["https://[fc00::1]/x", "unique local"],
    ["https://[fd12:3456::1]/x", "unique local"],
    ["https://[fe80::1]/x", "link-local"],
    ["https://[::ffff:10.0.0.1]/x", "private address"],
    ["https://[::ffff:127.0.0.1]/x", "loopback"],
    ["https://[64:ff9b::a9fe:a9fe]/x", "link-local"],
    ["https://localhost/x", "loopback"],
    ["https://app.localhost/x", "loopback"],
    ["https://printer.local/x", "private network"],
    ["https://metadata.google.internal/x", "private network"],
    ["https://router.home.arpa/x", "private network"],
    ["https://kubernetes.default.svc/x", "private network"],
    ["https://kubernetes.default.svc./x", "private network"],
    ["https://redis.prod.svc.cluster.local/x", "private network"],
    ["https://build.corp/x", "private network"],
    ["https://nas.home/x", "private network"],
    ["https://hooks.test/x", "special-use name"],
    ["https://hooks.example/x", "special-use name"],
    ["https://hooks.invalid/x", "special-use name"],
    ["https://hooks.onion/x", "special-use name"],
    ["https://intranet/x", "not a public host name"],
    ["https://intranet../x", "not a valid host name"],
    ["https://printer.local../x", "not a valid host name"],
    ["https://hooks..example.com/x", "not a valid host name"],
    [`https://example.com/${"a".repeat(2100)}`, "at most 2048"],
    ["https://[2002:a9fe:a9fe::]/x", "a 6to4 address"],
    ["https://[2002:c0a8:101::1]/x", "a 6to4 address"],
    ["https://[2001::1]/x", "a Teredo address"],
    ["https://[64:ff9b:1:a9fe:a9fe::]/x", "a local-use NAT64 address"],
    ["https://[64:ff9b::127.0.0.1]/x", "loopback"],
    ["https://[::ffff:0:a9fe:a9fe]/x", "link-local"],
    ["https://[2001:2::1]/x", "benchmarking"],
    ["https://[2001:10::1]/x", "ORCHID"],
    ["https://[2001:2f::1]/x", "ORCHID"],
    ["https://[3fff:123::1]/x", "documentation"],
    ["https://192.88.99.1/x", "6to4 relay"],
    ["https://hooks.example.com:80/x", "port 80"],
    ["https://hooks.example.com:8080/x", "port 8080"],
    ["https://[2606:4700::6810:85e5]:6443/x", "port 6443"],
  ])("refuses %s", (url, why) => {
    expect(refusalOf(url, false)).toContain(why);
  });

  it("allows http to exactly 127.0.0.1, localhost and ::1 when loopback is allowed, and nothing else private", () => {
    for (const url of ["http://127.0.0.1:8787/hook", "http://localhost:3000/hook", "http://[::1]:9000/hook"]) {
      expect(refusalOf(url, false), url).not.toBeNull();
      expect(refusalOf(url, true), url).toBeNull();
    }
    for (const url of [
      "http://127.0.0.2/x",
      "http://10.0.0.1/x",
      "http://hooks.example.com/x",
      "http://app.localhost/x",
    ])
      expect(refusalOf(url, true), url).not.toBeNull();
  });

  it("answers a refused URL with a 400 naming the parameter, and normalizes an accepted one", () => {
    expect(() => checkWebhookUrl("http://10.0.0.1/x", false)).toThrow(
      expect.objectContaining({ status: 400, param: "url", type: "invalid_request_error" }),
    );
    expect(() => checkWebhookUrl(42, false)).toThrow(expect.objectContaining({ status: 400, code: "invalid_type" }));
    expect(checkWebhookUrl("HTTPS://Hooks.Example.COM/a", false)).toBe("https://hooks.example.com/a");
  });
});
