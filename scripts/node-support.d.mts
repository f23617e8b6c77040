/** Why `version` (as `process.versions.node`) cannot run this repository, or null when it can. */
export function unsupported(version: string): string | null;
