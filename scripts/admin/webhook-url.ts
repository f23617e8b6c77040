// The admin CLI's check of a webhook endpoint's URL: the API's own rules (src/webhooks/target.ts). A D1
// target writes the endpoint's row itself, so nothing else would refuse a private address or another
// port before every delivery failed on it. Loopback over http is the deployment's to allow
// (WEBHOOK_ALLOW_LOOPBACK): left to the API with --url and to local development's D1, never remote.

import { refusalOf } from "../../src/webhooks/target.ts";
import { CliError } from "./queries.ts";

/** Throws the CLI's error for a URL the API would refuse; `remote`: the target is the deployed D1. */
export function checkWebhookUrl(url: string | undefined, remote: boolean): string {
  const refusal = refusalOf(url ?? "", !remote);
  if (refusal !== null) throw new CliError(`Invalid webhook URL: ${refusal}.`);
  return url as string;
}
