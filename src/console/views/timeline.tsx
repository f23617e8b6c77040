// The event timeline of a response: its recorded events with their time since the response was
// created, from `GET .../events` (the gateway's timed log) a page at a time; where a gateway has no
// such route yet, the SSE replay (`?stream=true`), whose events carry no times (shown as —).

import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { ApiFailure, send, type List } from "../api";
import type { Session } from "../session";
import { readEvents, type StreamEvent } from "../sse";
import { Json } from "./common";

export interface TimedEvent {
  sequence_number: number;
  type: string;
  /** Milliseconds since the response was created; null when the gateway did not record it. */
  t_ms: number | null;
  event: StreamEvent;
}

/** Events of the replay shown before "show all": a long answer has thousands of deltas. */
const SHOWN_EVENTS = 200;
/** Events of the replay or a live follow kept for one timeline; a longer log is cut (and says so). */
export const MAX_TIMELINE_EVENTS = 20_000;
// Events read per page of GET .../events (its `limit` is 1-100, as every list of the API): the first
// page shows at once, the next ones when the reader asks or scrolls to the end of the table.
const EVENTS_PAGE = 100;

export const untimed = (event: StreamEvent, index: number): TimedEvent => ({
  sequence_number: event.sequence_number ?? index,
  type: event.type,
  t_ms: null,
  event,
});

/**
 * A timeline as the page holds it: `next` is the events route's cursor when it has more to read
 * (null once every event is read, and for the replay); `end` the last page of a log longer than
 * what is read (read once, `order=desc`: the terminal event and the count without reading the log
 * between); `cut` when the replay went on past `MAX_TIMELINE_EVENTS`.
 */
export interface TimelineData {
  events: TimedEvent[];
  timed: boolean;
  next: number | null;
  end: TimedEvent[];
  cut: boolean;
}

const readPage = async (session: Session, path: string) =>
  (await (await send(session, path)).json()) as List<TimedEvent>;

/** `data` with `more` appended; once they reach its `end`, the two are one log, read in full. */
function joined(data: TimelineData, more: TimedEvent[], hasMore: boolean): TimelineData {
  const events = [...data.events, ...more];
  const last = events.at(-1)?.sequence_number ?? -1;
  const next = hasMore ? last : null;
  const endFrom = data.end[0]?.sequence_number;
  if (endFrom === undefined || next === null) return { ...data, events, next, end: [] };
  if (last + 1 < endFrom) return { ...data, events, next };
  return {
    ...data,
    events: [...events, ...data.end.filter((event) => event.sequence_number > last)],
    next: null,
    end: [],
  };
}

/** The page of the events route after `after`, appended to `data`'s events. */
export async function readEventsPage(session: Session, base: string, data: TimelineData): Promise<TimelineData> {
  const page = await readPage(session, `${base}/events?after=${data.next ?? -1}&limit=${EVENTS_PAGE}`);
  return joined(data, page.data, page.has_more);
}

/**
 * The first page of the response's events with times, or, when the gateway has no events route,
 * every event of the replay without them.
 */
export async function loadTimeline(session: Session, base: string): Promise<TimelineData> {
  try {
    const first = await readEventsPage(session, base, { events: [], timed: true, next: null, end: [], cut: false });
    if (first.next === null) return first;
    const last = await readPage(session, `${base}/events?order=desc&limit=${EVENTS_PAGE}`);
    return joined({ ...first, end: last.data.reverse() }, [], true);
  } catch (error) {
    if (!(error instanceof ApiFailure) || error.status !== 404) throw error;
  }
  const events: TimedEvent[] = [];
  const replay = await send(session, `${base}?stream=true`);
  let cut = false;
  await readEvents(replay, (event) => {
    if (events.length < MAX_TIMELINE_EVENTS) events.push(untimed(event, events.length));
    else cut = true;
  });
  return { events, timed: false, next: null, end: [], cut };
}

/**
 * A keyboard reader crosses the table with one Tab (a log has hundreds of rows): the arrow keys, Home
 * and End move between its rows' JSON toggles; Enter or Space opens one, as any toggle.
 */
function onRowKey(event: KeyboardEvent) {
  const from = event.target;
  if (!(from instanceof HTMLElement) || from.tagName !== "SUMMARY" || !ROW_KEYS.includes(event.key)) return;
  event.preventDefault();
  const toggles = [...(event.currentTarget as HTMLElement).querySelectorAll<HTMLElement>("tr[data-seq] summary")];
  const at = toggles.indexOf(from);
  const to =
    event.key === "Home"
      ? toggles[0]
      : event.key === "End"
        ? toggles.at(-1)
        : toggles[at + (event.key === "ArrowDown" ? 1 : -1)];
  if (to === undefined) return;
  // From the row's start, as Jump does: a narrow screen scrolls the table sideways.
  to.closest("tr")?.scrollIntoView({ block: "nearest", inline: "start" });
  to.focus({ preventScroll: true });
}
const ROW_KEYS = ["ArrowDown", "ArrowUp", "Home", "End"];

const milliseconds = (value: number | null): string => (value === null ? "—" : `${value.toLocaleString("en-US")} ms`);

/** Reads the next page when `target` scrolls into view (the end of the table), while `more` is set. */
function useReadOnSight(more: (() => void) | undefined) {
  const target = useRef<HTMLDivElement>(null);
  const latest = useRef(more);
  latest.current = more;
  useEffect(() => {
    const element = target.current;
    if (element === null || more === undefined || typeof IntersectionObserver === "undefined") return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) latest.current?.();
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [more === undefined]);
  return target;
}

/**
 * Keeps a live log's newest row in view once the reader has jumped to it (`follow`), as rows come in
 * and the answer above grows, until they scroll away from it. `mark`: an element right after the table.
 */
function useFollowTail(following: boolean, rows: number) {
  const mark = useRef<HTMLDivElement>(null);
  const sticking = useRef(false);
  useEffect(() => {
    const element = mark.current;
    if (element === null || !following || typeof IntersectionObserver === "undefined") return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => !entry.isIntersecting)) sticking.current = false;
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [following]);
  // Before the browser lays out the rows just added and tells the observer the mark left the view.
  useLayoutEffect(() => {
    if (following && sticking.current) mark.current?.scrollIntoView({ block: "nearest" });
  }, [rows]);
  return {
    mark,
    follow: () => {
      sticking.current = true;
      mark.current?.scrollIntoView({ block: "nearest" });
    },
  };
}

/**
 * The rows of a run of consecutive events, each with its gap to the one before in the run. Only the
 * `current` row's JSON toggle is a Tab stop: the arrow keys move between them (see `onRowKey`).
 */
function Rows({ events, current }: { events: TimedEvent[]; current: number | undefined }) {
  return (
    <>
      {events.map((event, index) => {
        const previous = index > 0 ? (events[index - 1]?.t_ms ?? null) : null;
        const delta = event.t_ms !== null && previous !== null ? event.t_ms - previous : null;
        return (
          <tr key={event.sequence_number} data-seq={event.sequence_number}>
            <td class="num">{event.sequence_number}</td>
            <td class="mono">{event.type}</td>
            <td class="num">{milliseconds(event.t_ms)}</td>
            <td class="num">{delta === null ? "" : `+${delta}`}</td>
            <td>
              <Json value={event.event} lazy tabIndex={event.sequence_number === current ? 0 : -1} />
            </td>
          </tr>
        );
      })}
    </>
  );
}

/**
 * `following`: the events come from a live stream, whose times are read once the response has ended.
 * `more`: reads the next page of the events route (set while it has more); `reading` while it does.
 * `end`: the log's last page, shown after the events not read yet.
 */
export function Timeline({
  events,
  timed,
  end = [],
  cut = false,
  following = false,
  more,
  reading = false,
}: {
  events: TimedEvent[];
  timed: boolean;
  end?: TimedEvent[];
  cut?: boolean;
  following?: boolean;
  more?: () => void;
  reading?: boolean;
}) {
  const [all, setAll] = useState(false);
  // The row whose JSON toggle is the table's one Tab stop: the last one focused, while it is shown.
  const [active, setActive] = useState<number | null>(null);
  const last = useRef<HTMLTableSectionElement>(null);
  // The events route's pages are read on demand, so every event read is shown; the replay is read whole.
  const paged = timed;
  const shown = all || paged ? events : events.slice(0, SHOWN_EVENTS);
  // A live run past its first rows shows its latest events too, as a long log its end: the newest
  // events are what a reader following it looks for. The ones between wait for "Show all".
  const latest =
    following && !all && !paged && events.length > SHOWN_EVENTS
      ? events.slice(Math.max(SHOWN_EVENTS, events.length - EVENTS_PAGE))
      : [];
  const hidden = latest.length > 0 ? events.length - SHOWN_EVENTS - latest.length : 0;
  const isShown = (seq: number) => [shown, latest, end].some((rows) => rows.some((e) => e.sequence_number === seq));
  const current = active !== null && isShown(active) ? active : (shown[0] ?? end[0])?.sequence_number;
  const onFocusIn = (event: FocusEvent) => {
    const row = event.target instanceof HTMLElement && event.target.tagName === "SUMMARY" && event.target.closest("tr");
    if (row && row.dataset.seq !== undefined && Number(row.dataset.seq) !== active) setActive(Number(row.dataset.seq));
  };
  const tail = useFollowTail(following, events.length);
  const sentinel = useReadOnSight(reading ? undefined : more);
  const partial = more !== undefined;
  const first = (type: string) => events.find((event) => event.type === type)?.t_ms ?? null;
  const firstDelta = events.find((event) => event.type.endsWith(".delta"))?.t_ms ?? null;
  const lastEvent = end.at(-1) ?? events.at(-1);
  // Sequence numbers count from 0 without gaps: the last one read back gives the log's length.
  const total = end.length > 0 && lastEvent !== undefined ? lastEvent.sequence_number + 1 : events.length;
  const between = end.length > 0 ? end[0]!.sequence_number - (events.at(-1)?.sequence_number ?? -1) - 1 : 0;
  const count = (value: number) => value.toLocaleString("en-US");
  const jump = () => {
    const rows = last.current?.rows;
    const row = rows?.[rows.length - 1];
    // From the row's start (its #), not scrolled sideways to its JSON: a narrow screen scrolls the table.
    row?.scrollIntoView({ block: "center", inline: "start" });
    row?.querySelector<HTMLElement>("summary")?.focus({ preventScroll: true });
  };
  const jumpToLatest = () => {
    jump();
    tail.follow();
  };
  return (
    <div class="timeline">
      <p class="muted small">
        {cut
          ? `The first ${count(events.length)} events: the log goes on past them.`
          : end.length > 0
            ? `${count(total)} events: the first ${count(events.length)} and the last ${count(end.length)} are shown; the ones between are read as you scroll or ask.`
            : partial
              ? `The first ${count(events.length)} events; more are read as you scroll or ask.`
              : `${count(events.length)} events.`}{" "}
        {timed
          ? `First event ${milliseconds(events[0]?.t_ms ?? null)}${
              firstDelta === null && partial ? "" : `, first delta ${milliseconds(firstDelta)}`
            }${cut || (partial && end.length === 0) ? "" : `, end ${milliseconds(lastEvent?.t_ms ?? first("response.completed"))}`} after creation.`
          : following
            ? "Followed live: the events' times show once the response has ended."
            : "Times are not recorded by this gateway version: shown from the replay, without timings."}
        {end.length > 0 && (
          <>
            {" "}
            <button type="button" onClick={jump}>
              Jump to the end »
            </button>
          </>
        )}
        {following && events.length > 0 && (
          <>
            {" "}
            <button type="button" onClick={jumpToLatest}>
              Jump to the latest »
            </button>
          </>
        )}
      </p>
      <div class="scroll-x">
        <table onKeyDown={onRowKey} onFocusIn={onFocusIn}>
          <thead>
            <tr>
              <th class="num">#</th>
              <th>Event</th>
              <th class="num">t</th>
              <th class="num">+Δ</th>
              <th />
            </tr>
          </thead>
          <tbody ref={latest.length > 0 || end.length > 0 ? undefined : last}>
            <Rows events={shown} current={current} />
          </tbody>
          {latest.length > 0 && (
            <tbody ref={last}>
              {hidden > 0 && (
                <tr class="gap">
                  <td colSpan={5}>
                    <span class="muted small">{count(hidden)} events between, shown with all of them</span>
                  </td>
                </tr>
              )}
              <Rows events={latest} current={current} />
            </tbody>
          )}
          {end.length > 0 && (
            <tbody ref={last}>
              <tr class="gap">
                <td colSpan={5}>
                  <div ref={sentinel}>
                    <span class="muted small">{count(between)} events not read yet</span>{" "}
                    <button type="button" disabled={reading} onClick={more}>
                      {reading ? "Reading…" : `Show ${EVENTS_PAGE} more events`}
                    </button>
                  </div>
                </td>
              </tr>
              <Rows events={end} current={current} />
            </tbody>
          )}
        </table>
      </div>
      {following && <div ref={tail.mark} />}
      {!all && !paged && events.length > SHOWN_EVENTS && (
        <button type="button" onClick={() => setAll(true)}>
          Show all {events.length} events
        </button>
      )}
      {partial && end.length === 0 && (
        <div ref={sentinel}>
          <button type="button" disabled={reading} onClick={more}>
            {reading ? "Reading…" : `Show ${EVENTS_PAGE} more events`}
          </button>
        </div>
      )}
    </div>
  );
}
