// The gateway as it was at another commit (`npm run bench -- --before=<ref>`), bundled to run beside this
// checkout's in the same run: its tree is extracted with `git archive` into a temp dir outside the repository
// (no worktree to register or leave behind, nothing for eslint or tsc to find), with this checkout's
// node_modules linked in, and bundled like the current one. Used by bench/run.ts.

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { own } from "#bench/children";
import { bundleGateway } from "#bench/gateway";

export interface BeforeBuild {
  /** Short hash and subject of the commit. */
  commit: string;
  /** The extracted tree: its wrangler.toml and migrations/ configure the instance. */
  root: string;
  bundleDir: string;
}

const git = (repo: string, ...args: string[]): string =>
  execFileSync("git", args, { cwd: repo, encoding: "utf8" }).trim();

/** Extracts `ref`'s tree and bundles it into `bundleDir`; the tree is removed when the run stops. */
export async function buildBefore(repo: string, ref: string, bundleDir: string): Promise<BeforeBuild> {
  const sha = git(repo, "rev-parse", "--verify", `${ref}^{commit}`);
  const commit = `${sha.slice(0, 7)} ${git(repo, "log", "-1", "--format=%s", sha)}`;
  const root = mkdtempSync(join(tmpdir(), "bench-before-"));
  own(`before tree ${sha.slice(0, 7)}`, () => {
    rmSync(root, { recursive: true, force: true });
    return Promise.resolve();
  });
  await new Promise<void>((resolve, reject) => {
    const archive = spawn("git", ["archive", "--format=tar", sha], { cwd: repo, stdio: ["ignore", "pipe", "inherit"] });
    const untar = spawn("tar", ["-x", "-C", root], { stdio: ["pipe", "ignore", "inherit"] });
    archive.stdout.pipe(untar.stdin);
    archive.once("error", reject);
    untar.once("error", reject);
    untar.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`git archive | tar exited ${code}`))));
  });
  // The dependencies are this checkout's: what the bundle needs is the source and configuration.
  symlinkSync(join(repo, "node_modules"), join(root, "node_modules"));
  await bundleGateway(root, bundleDir);
  return { commit, root, bundleDir };
}
