// The remembered URL hosts behind every log line's and upstream error's host: the same answers as parsing
// each time, credentials and paths never in them, and still right once the memory has started again.

import { describe, expect, it } from "vitest";
import { urlHost } from "../../src/url-host";

describe("urlHost", () => {
  it("gives the host and port only, the same on every ask", () => {
    for (let ask = 0; ask < 2; ask++) {
      expect(urlHost("https://user:secret@api.example.com:8443/v1/deployments/x?key=k")).toBe("api.example.com:8443");
      expect(urlHost("http://127.0.0.1:8790/v1")).toBe("127.0.0.1:8790");
    }
  });

  it("gives null for text that is not a URL", () => {
    expect(urlHost("not a url")).toBeNull();
    expect(urlHost("not a url")).toBeNull();
  });

  it("answers right after more URLs than it remembers", () => {
    expect(urlHost("https://first.example/v1")).toBe("first.example");
    for (let n = 0; n < 600; n++) expect(urlHost(`https://h${n}.example/v1`)).toBe(`h${n}.example`);
    expect(urlHost("https://first.example/v1")).toBe("first.example");
    const long = `https://long.example/${"p".repeat(5_000)}`;
    expect(urlHost(long)).toBe("long.example");
  });
});
