// scripts/node-support.mjs, what the guard before `npm install` and every npm script
// (scripts/check-node.mjs) refuses: what package.json's engines refuse (before 22.18, and the odd
// releases 23 and 25, which vitest refuses).

import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { unsupported } from "../../scripts/node-support.mjs";

describe("scripts/node-support.mjs", () => {
  it("takes 22.18 and newer, 24 and 26 on", () => {
    for (const version of ["22.18.0", "22.21.1", "24.0.0", "24.21.0", "26.1.0", "27.0.0"]) {
      expect(unsupported(version), version).toBeNull();
    }
  });

  it("refuses what is older than 22.18", () => {
    for (const version of ["18.20.0", "20.20.2", "22.17.1"]) {
      expect(unsupported(version), version).toBe("needs Node.js 22.18 or newer");
    }
  });

  it("refuses the odd releases 23 and 25, which vitest's engines leave out", () => {
    for (const version of ["23.11.0", "25.2.1"]) {
      expect(unsupported(version), version).toMatch(/does not run on Node.js 23 or 25/);
    }
    const vitest = JSON.parse(readFileSync("node_modules/vitest/package.json", "utf8")) as {
      engines: { node: string };
    };
    expect(vitest.engines.node).toBe("^22.12.0 || ^24.0.0 || >=26.0.0");
  });

  it("matches package.json's engines", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { engines: { node: string } };
    expect(pkg.engines.node).toBe("^22.18.0 || ^24.0.0 || >=26.0.0");
  });
});
