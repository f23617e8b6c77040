// Reading the openai SDK's event streams in tests: every event, the events up to one that matches,
// the rest of an open stream, and the id of the response its first event (`response.created`) names.

import type { ResponseStreamEvent } from "openai/resources/responses/responses";

/** Every event of a stream, to its end. */
export async function collect(stream: AsyncIterable<ResponseStreamEvent>): Promise<ResponseStreamEvent[]> {
  const events: ResponseStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** Reads events until one satisfies `until` (included); the iterator stays usable for the rest. */
export async function readUntil(
  iterator: AsyncIterator<ResponseStreamEvent>,
  until: (event: ResponseStreamEvent) => boolean,
): Promise<ResponseStreamEvent[]> {
  const seen: ResponseStreamEvent[] = [];
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    seen.push(next.value);
    if (until(next.value)) break;
  }
  return seen;
}

/** Every event left in an open stream. */
export const rest = (iterator: AsyncIterator<ResponseStreamEvent>): Promise<ResponseStreamEvent[]> =>
  readUntil(iterator, () => false);

/**
 * Reads a stream the SDK ends by throwing (at an `error` event): the types of the events it read,
 * the id `response.created` named, and what it threw (undefined if the stream ended normally).
 */
export async function readToFailure(
  stream: AsyncIterable<ResponseStreamEvent>,
): Promise<{ types: string[]; id: string; failure: unknown }> {
  const types: string[] = [];
  let id = "";
  try {
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.created") id = event.response.id;
    }
    return { types, id, failure: undefined };
  } catch (failure) {
    return { types, id, failure };
  }
}

/** The id of the response a lifecycle event (`response.created`, `response.in_progress`...) carries, parsed or raw. */
export const responseIdOf = (event: unknown): string => (event as { response: { id: string } }).response.id;

export interface OpenedStream {
  iterator: AsyncIterator<ResponseStreamEvent>;
  /** The first event: `response.created`. */
  first: ResponseStreamEvent;
  /** The id of the response it created. */
  id: string;
}

/** Reads a stream's first event; its iterator goes on from there. */
export async function openStream(stream: AsyncIterable<ResponseStreamEvent>): Promise<OpenedStream> {
  const iterator = stream[Symbol.asyncIterator]();
  const first = (await iterator.next()).value as ResponseStreamEvent;
  return { iterator, first, id: responseIdOf(first) };
}
