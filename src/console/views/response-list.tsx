// The responses list: filters (model, status, metadata, conversation, time; the operator also by tenant) sent to
// the gateway's indexed list, cursor pages, and a search of the loaded page's text. Full-text search
// is not asked of D1: it would need an FTS index written with every response (see docs/console.md).

import { useState } from "preact/hooks";
import { getJson, query, responsesPath, type List } from "../api";
import { hrefOf } from "../route";
import type { Session } from "../session";
import { cut } from "../cut";
import { breakable, formatNumber, Show, Status, Time, useLoad, text } from "./common";
import { previewText, type ResponseObject } from "./response-model";

const STATUSES = ["", "queued", "in_progress", "completed", "failed", "incomplete", "cancelled"];
const FILTERS = [
  "model",
  "status",
  "metadata",
  "conversation",
  "created_after",
  "created_before",
  "tenant_id",
] as const;

/**
 * `k=v, k2=v2` as `metadata[k]=v` query parameters, or what is not such a pair: dropping it would
 * list every response under a filter that seems to hold.
 */
function metadataParams(text: string): { params: Record<string, string> } | { bad: string } {
  const params: Record<string, string> = {};
  for (const pair of text.split(",")) {
    if (pair.trim() === "") continue;
    const at = pair.indexOf("=");
    if (at <= 0 || pair.slice(0, at).trim() === "") return { bad: pair.trim() };
    params[`metadata[${pair.slice(0, at).trim()}]`] = pair.slice(at + 1).trim();
  }
  return { params };
}

const toSeconds = (local: string | null): string | undefined =>
  local === null || local === "" ? undefined : String(Math.floor(new Date(local).getTime() / 1000));

export function ResponseList({ session, params }: { session: Session; params: URLSearchParams }) {
  // The search is of the page read when it was typed: another page (a filter, Older », back) starts
  // without it, or a filtered page could show "0 of 1 shown" under a search typed for the last one.
  const [typed, setSearch] = useState<{ list?: List<ResponseObject>; text: string }>({ text: "" });
  const values = Object.fromEntries(FILTERS.map((name) => [name, params.get(name) ?? ""])) as Record<
    (typeof FILTERS)[number],
    string
  >;
  const after = params.get("after") ?? "";
  const metadata = metadataParams(values.metadata);
  const path = `${responsesPath(session)}${query({
    limit: 20,
    after,
    model: values.model,
    status: values.status,
    conversation: values.conversation,
    tenant_id: session.mode === "admin" ? values.tenant_id : undefined,
    created_after: toSeconds(values.created_after),
    created_before: toSeconds(values.created_before),
    ...("params" in metadata ? metadata.params : {}),
  })}`;
  const [page] = useLoad(async () => {
    if ("bad" in metadata)
      throw new Error(`Metadata filters are key=value pairs, separated by commas: '${metadata.bad}' is not one.`);
    return getJson<List<ResponseObject>>(session, path);
  }, `${path}#${values.metadata}`);

  function apply(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const next: Record<string, string> = {};
    for (const name of FILTERS) next[name] = text(form.get(name)).trim();
    window.location.hash = hrefOf("/", next);
  }

  return (
    <main>
      <form class="filters" onSubmit={apply} aria-label="Filters">
        <label>
          Requested model <input name="model" value={values.model} placeholder="as the request named it" />
        </label>
        <label>
          Status
          <select name="status" value={values.status}>
            {STATUSES.map((status) => (
              <option value={status}>{status === "" ? "any" : status}</option>
            ))}
          </select>
        </label>
        <label>
          Metadata <input name="metadata" value={values.metadata} placeholder="key=value, key=value" />
        </label>
        <label>
          Conversation <input name="conversation" value={values.conversation} placeholder="conv_…" />
        </label>
        <label>
          From <input name="created_after" type="datetime-local" value={values.created_after} />
        </label>
        <label>
          Before <input name="created_before" type="datetime-local" value={values.created_before} />
        </label>
        {session.mode === "admin" && (
          <label>
            Tenant <input name="tenant_id" value={values.tenant_id} placeholder="every tenant" />
          </label>
        )}
        <button type="submit">Filter</button>
        <a class="button-link" href="#/">
          Clear
        </a>
      </form>
      <Show loaded={page}>
        {(list) => {
          const search = typed.list === list ? typed.text : "";
          const needle = search.trim().toLowerCase();
          const rows = list.data.filter(
            (response) => needle === "" || JSON.stringify(response).toLowerCase().includes(needle),
          );
          return (
            <>
              <div class="list-tools">
                <label>
                  Search this page{" "}
                  <input
                    type="search"
                    name="search"
                    value={search}
                    onInput={(event) => setSearch({ list, text: event.currentTarget.value })}
                  />
                </label>
                <span class="muted">
                  {rows.length} of {list.data.length} shown
                </span>
              </div>
              {list.data.length === 0 ? (
                <p class="empty">
                  No stored responses match.
                  {values.model !== "" &&
                    " The model filter matches the name the request asked for, which can differ from the name the upstream answers with (the list's Model column)."}
                </p>
              ) : (
                <div class="scroll-x">
                  <table class="responses">
                    <thead>
                      <tr>
                        <th>Created</th>
                        <th>Response</th>
                        <th>Status</th>
                        <th>Model</th>
                        {session.mode === "admin" && <th class="wide">Tenant</th>}
                        <th class="num wide">Tokens</th>
                        <th class="wide">Output</th>
                      </tr>
                    </thead>
                    <tbody>
                      {rows.map((response) => (
                        <tr key={response.id} data-id={response.id}>
                          <td>
                            <Time seconds={response.created_at} />
                          </td>
                          <td class="id">
                            <a href={hrefOf(`/responses/${response.id}`)}>{response.id.slice(0, 18)}…</a>
                          </td>
                          <td>
                            <Status status={response.status} />
                            {/* Why it failed, as `npm run admin -- responses list` shows it: the first thing a drill asks. */}
                            {response.error?.code && (
                              <span class="muted small error-code" title={response.error.message}>
                                {" "}
                                {response.error.code}
                              </span>
                            )}
                          </td>
                          <td>
                            {breakable(response.model)}
                            {/* Every row was requested under the filter's name: say so where the upstream named it otherwise. */}
                            {values.model !== "" && response.model !== values.model && (
                              <span class="muted small"> (requested as {values.model})</span>
                            )}
                          </td>
                          {session.mode === "admin" && (
                            <td class="mono wide">
                              <a href={hrefOf(`/tenants/${response.tenant_id}`)}>{response.tenant_id}</a>
                            </td>
                          )}
                          <td class="num wide">
                            {response.usage ? formatNumber(response.usage.total_tokens ?? 0) : "—"}
                          </td>
                          <td class="preview wide">{cut(previewText(response), 90)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
              <nav class="pager">
                {after !== "" && <a href={hrefOf("/", { ...values, after: undefined })}>« Newest</a>}
                {list.has_more && list.last_id && (
                  <a href={hrefOf("/", { ...values, after: list.last_id })} rel="next">
                    Older »
                  </a>
                )}
              </nav>
            </>
          );
        }}
      </Show>
    </main>
  );
}
