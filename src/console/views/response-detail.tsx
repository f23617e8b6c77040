// One response: its summary and usage, input items, rendered output, the previous_response_id chain
// and the conversation, the event timeline and webhook deliveries. A running response is followed
// live (`?stream=true`, folded with the gateway's own reducer) until it ends.

import { useEffect, useRef, useState } from "preact/hooks";
import { ResponseFold } from "../../responses/fold";
import type { ResponseObject as FoldedResponse } from "../../responses/types";
import { ApiFailure, getJson, query, responsesPath, send, type List } from "../api";
import { hrefOf } from "../route";
import type { Session } from "../session";
import { readEvents } from "../sse";
import { ErrorBox, formatDollars, formatNumber, Json, messageOf, Show, Status, Time, useLoad } from "./common";
import { Items } from "./items";
import { TERMINAL, type Item, type ResponseObject } from "./response-model";
import {
  loadTimeline,
  MAX_TIMELINE_EVENTS,
  readEventsPage,
  Timeline,
  untimed,
  type TimedEvent,
  type TimelineData,
} from "./timeline";
import type { Cost } from "./usage";
import { WebhookDeliveries } from "./webhooks";

/** Links of the previous_response_id chain read back, one request each. */
const MAX_CHAIN_LINKS = 20;

/** `back`: the list the reader came from, with its filters and page. */
export function ResponseDetail({ session, id, back }: { session: Session; id: string; back: string }) {
  const path = `${responsesPath(session)}/${encodeURIComponent(id)}`;
  const [loaded] = useLoad(async () => {
    // "." and ".." are dot segments, escaped or not: the browser would read /v1/responses (the list)
    // or /v1/ instead of a response. No response has such an id.
    if (id === "." || id === "..") throw new ApiFailure(404, `Response with id '${id}' not found.`);
    return getJson<ResponseObject>(session, path);
  }, path);
  return (
    <main class="detail">
      <p>
        <a href={back}>« Responses</a>
      </p>
      <Show loaded={loaded}>{(response) => <Detail key={response.id} session={session} initial={response} />}</Show>
    </main>
  );
}

type Live = "off" | "following" | "ended" | "lost";

function Detail({ session, initial }: { session: Session; initial: ResponseObject }) {
  const base = `${responsesPath(session)}/${encodeURIComponent(initial.id)}`;
  const [response, setResponse] = useState(initial);
  const [timeline, setTimeline] = useState<TimelineData | null>(null);
  const [timelineError, setTimelineError] = useState<string | null>(null);
  const [reading, setReading] = useState(false);
  // A click and the scroll it causes can ask for the same page in one tick, before `reading` renders.
  const readingNow = useRef(false);
  const [live, setLive] = useState<Live>(TERMINAL.has(initial.status) ? "off" : "following");
  const [version, setVersion] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    if (live === "off")
      loadTimeline(session, base).then(setTimeline, (error: unknown) => setTimelineError(messageOf(error)));
    else void follow(controller.signal);
    return () => controller.abort();
  }, []);

  /** Replays the run from its first event and follows it to its end, folding as the SDK would. */
  async function follow(signal: AbortSignal) {
    const fold = new ResponseFold({ owned: true });
    const events: TimedEvent[] = [];
    let cut = false;
    // One render per frame, not per event: a long answer streams thousands of deltas.
    let frame = 0;
    const flush = () => {
      frame = 0;
      const snapshot = fold.snapshot as (FoldedResponse & ResponseObject) | undefined;
      if (snapshot !== undefined) setResponse({ ...snapshot, tenant_id: initial.tenant_id });
      setTimeline({ events: [...events], timed: false, next: null, end: [], cut });
    };
    try {
      const stream = await send(session, `${base}?stream=true`, { signal });
      await readEvents(stream, (event) => {
        if (events.length < MAX_TIMELINE_EVENTS) events.push(untimed(event, events.length));
        else cut = true;
        try {
          fold.apply(event);
        } catch {
          // An event the fold refuses is still listed in the timeline.
        }
        if (frame === 0) frame = requestAnimationFrame(flush);
      });
      cancelAnimationFrame(frame);
      flush();
      // The stored Response has what the stream does not (final usage, completed_at), and its
      // recorded events their times.
      const stored = await getJson<ResponseObject>(session, base);
      setResponse(stored);
      // The stream closed before the response ended (a proxy's cut, the gateway done waiting): not its end.
      if (!TERMINAL.has(stored.status)) return setLive("lost");
      setLive("ended");
      setVersion((n) => n + 1);
      setTimeline(await loadTimeline(session, base));
    } catch (error) {
      if (!signal.aborted) {
        setLive("lost");
        setTimelineError(messageOf(error));
      }
    }
  }

  /** The next page of the timed event log, as the reader asks or scrolls to it. */
  function readMore() {
    if (timeline === null || timeline.next === null || readingNow.current) return;
    readingNow.current = true;
    setReading(true);
    setTimelineError(null);
    readEventsPage(session, base, timeline).then(
      (next) => {
        readingNow.current = false;
        setTimeline(next);
        setReading(false);
      },
      (error: unknown) => {
        readingNow.current = false;
        setTimelineError(messageOf(error));
        setReading(false);
      },
    );
  }

  return (
    <>
      <Summary session={session} base={base} response={response} live={live} />
      <section>
        <h2>Input</h2>
        <InputItems session={session} base={base} previous={initial.previous_response_id ?? null} />
      </section>
      <section>
        <h2>Output</h2>
        <Items items={response.output} />
      </section>
      <section>
        <h2>Chain and conversation</h2>
        <Chain session={session} response={response} />
      </section>
      <section>
        <h2>Event timeline</h2>
        {timelineError !== null && <ErrorBox message={timelineError} />}
        {timeline === null ? (
          <p class="muted">Loading…</p>
        ) : (
          <Timeline
            events={timeline.events}
            timed={timeline.timed}
            end={timeline.end}
            cut={timeline.cut}
            following={live === "following" || live === "lost"}
            more={timeline.next === null ? undefined : readMore}
            reading={reading}
          />
        )}
      </section>
      <section>
        <h2>Webhook deliveries</h2>
        <WebhookDeliveries session={session} base={base} version={version} />
      </section>
      <section>
        <h2>Response object</h2>
        <Json value={response} />
      </section>
    </>
  );
}

/**
 * What the response cost where MODEL_PRICES prices its model: the gateway prices its recorded tokens
 * as the Usage view's (`…/usage`: cached input as input, reasoning as output). Nothing where unpriced,
 * nor while it runs (its tokens are recorded at its end), nor where the read fails (the Usage view
 * shows a price table's error).
 */
function CostOf({ session, base, status }: { session: Session; base: string; status: string }) {
  const none: { cost?: Cost } = {};
  const [loaded] = useLoad(
    () =>
      TERMINAL.has(status)
        ? getJson<{ cost?: Cost }>(session, `${base}/usage`).catch(() => none)
        : Promise.resolve(none),
    `${base}:${status}`,
  );
  const cost = loaded.state === "ready" ? loaded.value.cost : undefined;
  if (cost === undefined) return null;
  return (
    <>
      <dt>Cost</dt>
      <dd class="cost">
        {formatDollars(cost.total)}{" "}
        <span class="muted">
          ({formatDollars(cost.input)} input, cached included · {formatDollars(cost.output)} output, reasoning included)
        </span>
      </dd>
    </>
  );
}

function Summary({
  session,
  base,
  response,
  live,
}: {
  session: Session;
  base: string;
  response: ResponseObject;
  live: Live;
}) {
  const usage = response.usage;
  // An upstream's own completed_at may predate the gateway's created_at: no duration then.
  const seconds =
    typeof response.completed_at === "number" && response.completed_at >= response.created_at
      ? response.completed_at - response.created_at
      : null;
  return (
    <header class="summary">
      <h1 class="mono">{response.id}</h1>
      <p>
        <Status status={response.status} /> {response.model}
        {response.background ? " · background" : ""}
        {response.store === false &&
          (response.background ? " · store: false" : " · store: false, recorded under RECORD_STORE_FALSE")}
        {live === "following" && <span class="live"> ● following live</span>}
        {live === "ended" && <span class="muted"> · followed to its end</span>}
        {live === "lost" && <span class="error"> · the live stream was lost</span>}
      </p>
      <dl>
        <dt>Created</dt>
        <dd>
          <Time seconds={response.created_at} />
        </dd>
        <dt>Completed</dt>
        <dd>
          <Time seconds={response.completed_at} />
          {seconds !== null && <span class="muted"> ({seconds} s)</span>}
        </dd>
        {typeof response.service_tier === "string" && (
          <>
            <dt>Service tier</dt>
            <dd>{response.service_tier}</dd>
          </>
        )}
        {response.tenant_id !== undefined && (
          <>
            <dt>Tenant</dt>
            <dd class="mono">{response.tenant_id}</dd>
          </>
        )}
        <dt>Usage</dt>
        <dd>
          {usage
            ? `${formatNumber(usage.input_tokens ?? 0)} in (${formatNumber(usage.input_tokens_details?.cached_tokens ?? 0)} cached) · ${formatNumber(usage.output_tokens ?? 0)} out (${formatNumber(usage.output_tokens_details?.reasoning_tokens ?? 0)} reasoning) · ${formatNumber(usage.total_tokens ?? 0)} total`
            : "—"}
        </dd>
        {usage && <CostOf session={session} base={base} status={response.status} />}
        {response.metadata && Object.keys(response.metadata).length > 0 && (
          <>
            <dt>Metadata</dt>
            <dd>
              {Object.entries(response.metadata).map(([key, value]) => (
                <span class="tag">
                  {key}={value}
                </span>
              ))}
            </dd>
          </>
        )}
        {response.error && (
          <>
            <dt>Error</dt>
            <dd class="error">
              {response.error.code}: {response.error.message}
            </dd>
          </>
        )}
        {response.incomplete_details?.reason && (
          <>
            <dt>Incomplete</dt>
            <dd>{response.incomplete_details.reason}</dd>
          </>
        )}
      </dl>
    </header>
  );
}

/** The input items; a tool output answering a call of the previous response names that call. */
function InputItems({ session, base, previous }: { session: Session; base: string; previous: string | null }) {
  const path = `${base}/input_items?order=asc&limit=100`;
  const [loaded] = useLoad(async () => {
    const calls =
      previous === null
        ? Promise.resolve([])
        : getJson<ResponseObject>(session, `${responsesPath(session)}/${encodeURIComponent(previous)}`).then(
            (response) => response.output,
            // Deleted or expired: the outputs are shown by their call ids alone.
            () => [],
          );
    const [list, context] = await Promise.all([getJson<List<Item>>(session, path), calls]);
    return { list, context };
  }, path);
  return (
    <Show loaded={loaded}>
      {({ list, context }) => (
        <>
          <Items items={list.data} context={context} />
          {list.has_more && <p class="muted">The first 100 input items are shown.</p>}
        </>
      )}
    </Show>
  );
}

interface ChainView {
  earlier: ResponseObject[];
  missing: string | null;
  /** The chain goes further back than the links shown. */
  truncated: boolean;
  /** Responses that continue this one: each a branch of its own. */
  later: ResponseObject[];
  moreLater: boolean;
  conversation: Item[] | null;
  /** The conversation has more items than the first 100 shown. */
  moreConversation: boolean;
  /** The response's conversation was deleted since. */
  conversationDeleted: boolean;
}

async function loadChain(session: Session, response: ResponseObject): Promise<ChainView> {
  const base = responsesPath(session);
  const earlier: ResponseObject[] = [];
  let missing: string | null = null;
  let previous = response.previous_response_id ?? null;
  for (; previous && earlier.length < MAX_CHAIN_LINKS;) {
    try {
      const link = await getJson<ResponseObject>(session, `${base}/${encodeURIComponent(previous)}`);
      earlier.unshift(link);
      previous = link.previous_response_id ?? null;
    } catch {
      missing = previous;
      previous = null;
      break;
    }
  }
  const later = await getJson<List<ResponseObject>>(
    session,
    `${base}${query({ previous_response_id: response.id, order: "asc", limit: 20, tenant_id: response.tenant_id })}`,
  );
  const conversationId = response.conversation?.id;
  let conversation: List<Item> | null = null;
  let conversationDeleted = false;
  if (conversationId && session.mode === "tenant")
    try {
      conversation = await getJson<List<Item>>(
        session,
        `/v1/conversations/${encodeURIComponent(conversationId)}/items?order=asc&limit=100`,
      );
    } catch (error) {
      // A deleted conversation leaves its responses: the chain is still shown.
      if (!(error instanceof ApiFailure && error.status === 404)) throw error;
      conversationDeleted = true;
    }
  return {
    earlier,
    missing,
    truncated: previous !== null,
    later: later.data,
    moreLater: later.has_more,
    conversation: conversation?.data ?? null,
    moreConversation: conversation?.has_more ?? false,
    conversationDeleted,
  };
}

function ChainLink({ response, current = false }: { response: ResponseObject; current?: boolean }) {
  return (
    <li class={current ? "current" : ""}>
      {current ? (
        <span class="mono">{response.id}</span>
      ) : (
        <a href={hrefOf(`/responses/${response.id}`)}>{response.id}</a>
      )}{" "}
      <Status status={response.status} /> <Time seconds={response.created_at} />
    </li>
  );
}

function Chain({ session, response }: { session: Session; response: ResponseObject }) {
  const [loaded] = useLoad(() => loadChain(session, response), `${response.id}:${response.status}`);
  return (
    <Show loaded={loaded}>
      {(chain) => (
        <>
          <div class="chain">
            {chain.truncated && (
              <p class="muted small">The {MAX_CHAIN_LINKS} turns before this one; the chain goes further back.</p>
            )}
            <ol>
              {chain.missing !== null && <li class="muted">{chain.missing} (deleted or expired)</li>}
              {chain.earlier.map((link) => (
                <ChainLink response={link} />
              ))}
              <ChainLink response={response} current />
            </ol>
            {chain.later.length > 0 && (
              <>
                <p class="muted small">
                  {chain.later.length === 1 && !chain.moreLater
                    ? "Continued by:"
                    : "Continued by each of these, each a branch of its own:"}
                </p>
                <ul>
                  {chain.later.map((link) => (
                    <ChainLink response={link} />
                  ))}
                  {chain.moreLater && <li class="muted">and more</li>}
                </ul>
              </>
            )}
          </div>
          {response.conversation?.id && (
            <div class="conversation">
              <h3>
                Conversation <span class="mono">{response.conversation.id}</span>{" "}
                <a class="small" href={hrefOf("/", { conversation: response.conversation.id })}>
                  Its responses »
                </a>
              </h3>
              {chain.conversationDeleted ? (
                <p class="muted">Deleted: its items are gone.</p>
              ) : chain.conversation === null ? (
                <p class="muted">The operator view shows the conversation's id only; its items are the tenant's.</p>
              ) : (
                <>
                  <Items items={chain.conversation} />
                  {chain.moreConversation && (
                    <p class="muted">
                      The first 100 items of the conversation are shown; its responses list every turn.
                    </p>
                  )}
                </>
              )}
            </div>
          )}
        </>
      )}
    </Show>
  );
}
