// Stops at once, with what to do, on a Node.js too old for this repository: wrangler, vitest and
// the TypeScript scripts (run as .ts, with no flag) need 22.18 or newer. Run before install and
// before every npm script that needs it; plain JavaScript, so that any old Node can run it.

import { readFileSync } from "node:fs";

const MINIMUM = [22, 18];
const [major, minor] = process.versions.node.split(".").map(Number);

if (major < MINIMUM[0] || (major === MINIMUM[0] && minor < MINIMUM[1])) {
  let pinned = "24";
  try {
    pinned = readFileSync(new URL("../.nvmrc", import.meta.url), "utf8").trim();
  } catch {
    // No .nvmrc: the message still names the minimum.
  }
  console.error(
    `responses-gateway needs Node.js ${MINIMUM.join(".")} or newer; this is ${process.version}.\n` +
      `Use Node ${pinned} (.nvmrc): with nvm, \`nvm install && nvm use\`; without nvm or root, ` +
      `\`npm install --prefix ~/.node${pinned} node@${pinned}\` and put ~/.node${pinned}/node_modules/node/bin first on PATH.`,
  );
  process.exit(1);
}
