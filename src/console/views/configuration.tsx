// Health's configuration: the settings this deployment runs on as the gateway read them (secrets only
// as set or unset, URLs by host), what is wrong with them, and the upstream routes without their keys
// (GET /admin/configuration, as `npm run admin -- config` prints it). A wrong setting is logged once
// per isolate at its first request; here it is one page away.

import { getJson } from "../api";
import type { Session } from "../session";
import { Show, useLoad } from "./common";

export interface Configuration {
  settings: Record<string, string>;
  problems: { setting: string; scope: string; message: string }[];
  misspelt: { name: string; meant: string }[];
  routes: {
    model: string;
    protocol: string;
    host: string | null;
    api_key: string;
    compaction: string;
    reasoning_input: string;
  }[];
  routes_problem: string | null;
  max_run_seconds: number;
  stuck_after_seconds: number;
}

export const loadConfiguration = (session: Session) => getJson<Configuration>(session, "/admin/configuration");

function Problems({ configuration }: { configuration: Configuration }) {
  const { problems, misspelt, routes_problem: routesProblem } = configuration;
  if (problems.length === 0 && misspelt.length === 0 && routesProblem === null)
    return <p class="empty">No setting is wrong.</p>;
  return (
    <ul class="problems" role="alert">
      {problems.map((problem) => (
        <li key={problem.message} class="error">
          {problem.message} <span class="muted">({problem.scope} refused)</span>
        </li>
      ))}
      {routesProblem !== null && <li class="error">UPSTREAM_ROUTES: {routesProblem}</li>}
      {misspelt.map((mistyped) => (
        <li key={mistyped.name} class="error">
          <code>{mistyped.name}</code> is not a setting and is ignored; did you mean <code>{mistyped.meant}</code>?
        </li>
      ))}
    </ul>
  );
}

export function ConfigurationView({ session }: { session: Session }) {
  const [loaded] = useLoad(() => loadConfiguration(session), "configuration");
  return (
    <Show loaded={loaded}>
      {(configuration) => (
        <section class="configuration">
          <Problems configuration={configuration} />
          <details>
            <summary>Settings ({Object.keys(configuration.settings).length})</summary>
            <div class="scroll-x">
              <table class="settings">
                <tbody>
                  {Object.entries(configuration.settings).map(([name, value]) => (
                    <tr key={name}>
                      <th class="mono">{name}</th>
                      <td class="mono">{value}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
          <details>
            <summary>Routes ({configuration.routes.length}; other models go to UPSTREAM_BASE_URL)</summary>
            <div class="scroll-x">
              <table class="routes">
                <thead>
                  <tr>
                    <th>Model</th>
                    <th>Protocol</th>
                    <th>Host</th>
                    <th>Key</th>
                    <th>Compaction</th>
                    <th>Reasoning input</th>
                  </tr>
                </thead>
                <tbody>
                  {configuration.routes.map((route) => (
                    <tr key={route.model}>
                      <td class="mono">{route.model}</td>
                      <td>{route.protocol}</td>
                      <td class="mono">{route.host}</td>
                      <td>{route.api_key}</td>
                      <td>{route.compaction}</td>
                      <td>{route.reasoning_input}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        </section>
      )}
    </Show>
  );
}
