// The live snapshot of a background response, from its Durable Object: context expansion asks it
// when D1 shows a parent still running (its object may hold an end D1 refused). Used by the stored
// foreground path, the store:false path and the background object.

import type { BackgroundSnapshot } from "./context";
import { runName } from "./response-run";

export const backgroundSnapshots =
  (env: Env, tenantId: string): BackgroundSnapshot =>
  async (responseId) =>
    await env.RESPONSE_RUN.getByName(runName(tenantId, responseId)).snapshot();
