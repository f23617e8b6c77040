// The Workers suite over three D1 shards (`D1_SHARDS=DB,DB_2,DB_3`): the same tests as vitest.config.ts,
// with tenants spread over three databases by the routing rule (src/db/shards.ts). `npm test` runs it,
// then test/shards/ and a few more on one shard (vitest.config.ts); `npm run test:shards` alone.

import { defineConfig } from "vitest/config";
import { gatewaySuite } from "./vitest.config.ts";

export default defineConfig(gatewaySuite(3));
