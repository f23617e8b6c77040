// Stops at once, with what to do, on a Node.js this repository does not run on (scripts/node-support.mjs).
// Run before install and before every npm script that needs it; plain JavaScript, so that any old Node
// can run it.

import { readFileSync } from "node:fs";
import { unsupported } from "./node-support.mjs";

const reason = unsupported(process.versions.node);
if (reason !== null) {
  let pinned = "24";
  try {
    pinned = readFileSync(new URL("../.nvmrc", import.meta.url), "utf8").trim();
  } catch {
    // No .nvmrc: the message still says what is needed.
  }
  console.error(
    `responses-gateway ${reason}; this is ${process.version}.\n` +
      `Use Node ${pinned} (.nvmrc): with nvm, \`nvm install && nvm use\`; without nvm or root, ` +
      `\`npm install --prefix ~/.node${pinned} node@${pinned}\` and put ~/.node${pinned}/node_modules/node/bin first on PATH.`,
  );
  process.exit(1);
}
