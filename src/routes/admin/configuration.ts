// Admin API, GET /admin/configuration: the settings this deployment runs on, as the isolate read them
// (secrets only as set or unset, URLs by host: the line logged once per isolate), the problems they
// have, the vars that look like a setting mistyped, the upstream routes without their keys, and the
// bound after which a queued or in_progress response is stuck (what `npm run admin -- status` and the
// console's Health tab list). One page away, instead of `wrangler tail` at an isolate's start.

import { configurationFields, misspeltSettings } from "../../config";
import { readCorsPolicy } from "../../http/cors";
import { readModelPrices } from "../../pricing/model-prices";
import { readRoutes, type ResolvedRoute, type RoutingTable } from "../../upstream/routes";
import { urlHost } from "../../url-host";
import { json, type RouteContext } from "../context";

/**
 * Past `MAX_RUN_SECONDS` a run is stopped; a dead one is ended by the minute's sweep once its 60 s
 * heartbeat lease lapses. Five minutes covers both with room to spare (the CLI's old fixed 65 minutes).
 */
export const STUCK_MARGIN_SECONDS = 300;

/** A route as the operator wrote it, with its key's secret named (never read out) and its host only. */
function routeView(route: ResolvedRoute) {
  return {
    model: route.pattern,
    protocol: route.protocol,
    host: urlHost(route.baseUrl),
    api_key_secret: route.apiKeySecret,
    // The caller's key (null secret), the named secret's, or a secret named but not set: refused.
    api_key: route.apiKeySecret === null ? "caller's" : route.apiKey === undefined ? "secret not set" : "set",
    strip_prefix: route.stripPrefix,
    request_fields: route.requestFields,
    template_opens_think: route.templateOpensThink,
    reasoning_sent_as: route.reasoningSentAs,
    alternate_roles: route.alternateRoles,
    reasoning_placeholder: route.reasoningPlaceholder,
    compaction: route.gatewayCompaction ? "gateway" : "upstream",
    reasoning_input: route.reasoningInput,
  };
}

interface Problem {
  setting: string;
  scope: string;
  message: string;
}

/**
 * What is wrong with the settings read where they are used: each refuses what needs it (a preflight,
 * a usage answer, a route's calls) as a wrong setting does, so each is listed with theirs.
 */
function problemsElsewhere(env: Env, table: RoutingTable): Problem[] {
  const problems: Problem[] = [];
  const cors = readCorsPolicy(env);
  if (cors !== null && !cors.ok)
    problems.push({ setting: "CORS_ORIGINS", scope: "CORS preflights", message: cors.problem });
  const prices = readModelPrices(env);
  if (prices !== null && !prices.ok)
    problems.push({ setting: "MODEL_PRICES", scope: "usage answers", message: prices.problem });
  if (table.ok)
    for (const route of table.routes)
      if (route.apiKey === undefined)
        problems.push({
          setting: "UPSTREAM_ROUTES",
          scope: `calls to '${route.pattern}'`,
          message: `The route for '${route.pattern}' needs the secret '${route.apiKeySecret ?? ""}', which is not set.`,
        });
  return problems;
}

export function getConfiguration({ env, config }: RouteContext): Promise<Response> {
  const vars = env as unknown as Record<string, unknown>;
  const table = readRoutes(config.routes);
  return Promise.resolve(
    json({
      object: "gateway.configuration",
      settings: configurationFields(vars),
      problems: [
        ...config.problems.map(({ setting, scope, message }) => ({ setting, scope, message })),
        ...problemsElsewhere(env, table),
      ],
      misspelt: misspeltSettings(vars).map(([name, meant]) => ({ name, meant })),
      routes: table.ok ? table.routes.map(routeView) : [],
      routes_problem: table.ok ? null : table.problem,
      max_run_seconds: config.maxRunMs / 1000,
      stuck_after_seconds: config.maxRunMs / 1000 + STUCK_MARGIN_SECONDS,
    }),
  );
}
