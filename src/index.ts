import { DurableObject } from "cloudflare:workers";

export class ResponseRun extends DurableObject<Env> {}

export default {
  fetch() {
    return new Response("not yet", { status: 503 });
  },
} satisfies ExportedHandler<Env>;
