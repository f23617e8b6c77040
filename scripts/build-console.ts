// Builds the history console (src/console/) into the Worker's static assets (dist/public/console/):
// one minified ES module bundle, the stylesheet and the page. Run by wrangler's [build] (dev,
// deploy, the dry run), by vitest.config.ts before the tests, and by hand: `npm run build:console`.

import { copyFileSync, mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { buildSync } from "esbuild";

const root = join(import.meta.dirname, "..");
const source = join(root, "src", "console");
const out = join(root, "dist", "public", "console");

/** Builds the console and returns the bytes of each file the first view loads. */
export function buildConsole(): Record<string, number> {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  buildSync({
    entryPoints: [join(source, "main.tsx")],
    outfile: join(out, "app.js"),
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    jsx: "automatic",
    jsxImportSource: "preact",
    legalComments: "none",
    logLevel: "warning",
  });
  for (const file of ["index.html", "app.css"]) copyFileSync(join(source, file), join(out, file));
  return Object.fromEntries(["index.html", "app.css", "app.js"].map((file) => [file, statSync(join(out, file)).size]));
}

if (process.argv[1] === import.meta.filename) {
  const sizes = buildConsole();
  const total = Object.values(sizes).reduce((sum, size) => sum + size, 0);
  console.log(
    `console built: ${Object.entries(sizes)
      .map(([file, size]) => `${file} ${size} B`)
      .join(", ")}; ${total} B in all`,
  );
}
