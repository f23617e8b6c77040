// wrangler.toml's [build]: with a build command, `wrangler dev` watches only `watch_dir` (Wrangler
// turns off esbuild's watching of the Worker's imports), so a watch_dir that leaves out the Worker's
// code serves the old Worker after every edit until a restart.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const toml = readFileSync("wrangler.toml", "utf8");
const topLevel = toml.slice(0, toml.indexOf("\n[env."));

function value(section: string, key: string): string {
  const body = topLevel.split(`\n[${section}]\n`)[1]?.split("\n[")[0] ?? "";
  const found = new RegExp(`^${key} = "([^"]*)"`, "m").exec(body);
  if (found === null) throw new Error(`wrangler.toml has no [${section}] ${key}`);
  return found[1]!;
}

describe("wrangler.toml's [build] watch_dir", () => {
  it("holds the Worker's entry point and the console's sources, so wrangler dev reloads on either", () => {
    const watched = value("build", "watch_dir").replace(/\/$/, "") + "/";
    const main = /^main = "([^"]*)"/m.exec(topLevel)?.[1] ?? "";
    expect(main).toBe("src/index.ts");
    expect(main.startsWith(watched)).toBe(true);
    expect("src/console/api.ts".startsWith(watched)).toBe(true);
  });
});
