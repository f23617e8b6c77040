/// <reference types="vite/client" />
// Recorded upstream streams (see test/fixtures/LICENSES.md), bundled into the test worker as text.

const raw = import.meta.glob<string>("../fixtures/**/*.{txt,sse,json,jsonl,yaml}", {
  query: "?raw",
  import: "default",
  eager: true,
});

export function fixtureText(path: string): string {
  const text = raw[`../fixtures/${path}`];
  if (text === undefined) throw new Error(`no fixture ${path}`);
  return text;
}

/** A `*.chunks.txt` NDJSON recording: one Responses event per line. */
export function fixtureEvents(path: string): Record<string, unknown>[] {
  return fixtureText(path)
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Splits a recording of several consecutive responses at each `response.created`. */
export function splitResponses(events: Record<string, unknown>[]): Record<string, unknown>[][] {
  const runs: Record<string, unknown>[][] = [];
  for (const event of events) {
    if (event.type === "response.created" || runs.length === 0) runs.push([]);
    runs.at(-1)?.push(event);
  }
  return runs;
}
