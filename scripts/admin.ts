// Operator CLI for tenants, gateway keys, webhook endpoints, usage and stored responses:
//   npm run admin -- <command> [arguments] [--local | --remote | --url URL] [--json]
// Against D1 it runs `wrangler d1 execute DB` (hashing keys exactly as the Worker does); with --url
// it calls a deployed gateway's admin API with $ADMIN_TOKEN. The commands are in scripts/admin/cli.ts.

import { run } from "./admin/cli.ts";
import { CliError } from "./admin/queries.ts";

try {
  console.log(await run(process.argv.slice(2), process.env));
} catch (error) {
  if (!(error instanceof CliError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
}
