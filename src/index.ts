// Worker entry: the HTTP surface, the retention Cron Trigger and the per-response Durable Object class.

import { handle } from "./router";
import { scheduled } from "./scheduled";

export { ResponseRun } from "./run/response-run";

export default {
  fetch: handle,
  scheduled,
} satisfies ExportedHandler<Env>;
