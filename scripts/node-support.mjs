// Which Node.js versions this repository runs on, as package.json's engines say: wrangler, vitest and
// the TypeScript scripts (run as .ts, with no flag) need 22.18 or newer, and vitest refuses the odd
// releases 23 and 25 (its engines: ^22.12 || ^24 || >=26). Plain JavaScript, so that any old Node can
// run it (scripts/check-node.mjs).

const MINIMUM = [22, 18];
const ODD_MAJORS = [23, 25];

/** Why `version` (as `process.versions.node`) cannot run this repository, or null when it can. */
export function unsupported(version) {
  const [major, minor] = version.split(".").map(Number);
  if (major < MINIMUM[0] || (major === MINIMUM[0] && minor < MINIMUM[1])) {
    return `needs Node.js ${MINIMUM.join(".")} or newer`;
  }
  if (ODD_MAJORS.includes(major)) return `does not run on Node.js ${ODD_MAJORS.join(" or ")} (vitest refuses them)`;
  return null;
}
