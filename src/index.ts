// Worker entry: the HTTP surface and the per-response Durable Object class.

import { handle } from "./router";

export { ResponseRun } from "./run/response-run";

export default {
  fetch: handle,
} satisfies ExportedHandler<Env>;
