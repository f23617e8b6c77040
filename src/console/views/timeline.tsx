// The event timeline of a response: every recorded event with its time since the response was
// created, from `GET .../events` (the gateway's timed log); where a gateway has no such route yet,
// the SSE replay (`?stream=true`), whose events carry no times (shown as —).

import { useState } from "preact/hooks";
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

/** Events shown before "show all": a long answer has thousands of deltas. */
const SHOWN_EVENTS = 200;
/** Events read for one timeline; a longer log is cut (and says so). */
export const MAX_TIMELINE_EVENTS = 20_000;
// The most GET .../events answers per page (its `limit` is 1-100, as every list of the API).
const EVENTS_PAGE = 100;

export const untimed = (event: StreamEvent, index: number): TimedEvent => ({
  sequence_number: event.sequence_number ?? index,
  type: event.type,
  t_ms: null,
  event,
});

/** A timeline as the page holds it; `cut` when the log goes on past the `MAX_TIMELINE_EVENTS` read. */
export interface TimelineData {
  events: TimedEvent[];
  timed: boolean;
  cut: boolean;
}

/** The response's events with times, or without them from the replay when the gateway has no events route. */
export async function loadTimeline(session: Session, base: string): Promise<TimelineData> {
  const events: TimedEvent[] = [];
  try {
    for (let after = -1; ;) {
      const page = (await (
        await send(session, `${base}/events?after=${after}&limit=${EVENTS_PAGE}`)
      ).json()) as List<TimedEvent>;
      events.push(...page.data);
      if (!page.has_more || page.data.length === 0) return { events, timed: true, cut: false };
      if (events.length >= MAX_TIMELINE_EVENTS)
        return { events: events.slice(0, MAX_TIMELINE_EVENTS), timed: true, cut: true };
      after = page.data.at(-1)?.sequence_number ?? after;
    }
  } catch (error) {
    if (!(error instanceof ApiFailure) || error.status !== 404 || events.length > 0) throw error;
  }
  const replay = await send(session, `${base}?stream=true`);
  let cut = false;
  await readEvents(replay, (event) => {
    if (events.length < MAX_TIMELINE_EVENTS) events.push(untimed(event, events.length));
    else cut = true;
  });
  return { events, timed: false, cut };
}

const milliseconds = (value: number | null): string => (value === null ? "—" : `${value.toLocaleString("en-US")} ms`);

/** `following`: the events come from a live stream, whose times are read once the response has ended. */
export function Timeline({
  events,
  timed,
  cut = false,
  following = false,
}: {
  events: TimedEvent[];
  timed: boolean;
  cut?: boolean;
  following?: boolean;
}) {
  const [all, setAll] = useState(false);
  const shown = all ? events : events.slice(0, SHOWN_EVENTS);
  const first = (type: string) => events.find((event) => event.type === type)?.t_ms ?? null;
  const firstDelta = events.find((event) => event.type.endsWith(".delta"))?.t_ms ?? null;
  return (
    <div class="timeline">
      <p class="muted small">
        {cut
          ? `The first ${events.length.toLocaleString("en-US")} events: the log goes on past them.`
          : `${events.length} events.`}{" "}
        {timed
          ? `First event ${milliseconds(events[0]?.t_ms ?? null)}, first delta ${milliseconds(firstDelta)}${
              cut ? "" : `, end ${milliseconds(events.at(-1)?.t_ms ?? first("response.completed"))}`
            } after creation.`
          : following
            ? "Followed live: the events' times show once the response has ended."
            : "Times are not recorded by this gateway version: shown from the replay, without timings."}
      </p>
      <div class="scroll-x">
        <table>
          <thead>
            <tr>
              <th class="num">#</th>
              <th>Event</th>
              <th class="num">t</th>
              <th class="num">+Δ</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {shown.map((event, index) => {
              const previous = index > 0 ? (shown[index - 1]?.t_ms ?? null) : null;
              const delta = event.t_ms !== null && previous !== null ? event.t_ms - previous : null;
              return (
                <tr key={event.sequence_number}>
                  <td class="num">{event.sequence_number}</td>
                  <td class="mono">{event.type}</td>
                  <td class="num">{milliseconds(event.t_ms)}</td>
                  <td class="num">{delta === null ? "" : `+${delta}`}</td>
                  <td>
                    <Json value={event.event} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {!all && events.length > SHOWN_EVENTS && (
        <button type="button" onClick={() => setAll(true)}>
          Show all {events.length} events
        </button>
      )}
    </div>
  );
}
