// A Response's `input_transformations` (OpenAI's field, openai-node 7.56+): the reasoning inputs
// withheld from the model, in input order, each `{id, action: "removed", reason, type: "reasoning"}`.
// The gateway's own (what a route's `reasoning_input`, or a chat route's translation, leaves out:
// src/upstream/withheld-reasoning.ts) join those an upstream reports. Used by the normalizer.

import type { JsonObject } from "./types";

/** The reasoning items the gateway left out of an upstream call, and the input order to list them in. */
export interface WithheldReasoning {
  /** The removed items' entries, in input order. */
  entries: JsonObject[];
  /** The ids of every reasoning item of the context sent, in input order. */
  order: string[];
}

export const NOTHING_WITHHELD: WithheldReasoning = { entries: [], order: [] };

/** The entry for a reasoning item the gateway left out: another model's reasoning, as it stands here. */
export const removedEntry = (id: string): JsonObject => ({
  id,
  action: "removed",
  reason: "model_mismatch",
  type: "reasoning",
});

const idOf = (entry: unknown): unknown =>
  typeof entry === "object" && entry !== null && !Array.isArray(entry) ? (entry as JsonObject).id : undefined;

/**
 * Adds, in place, the gateway's entries to `snapshot`'s (an upstream's own stay as they came), in
 * input order. Nothing withheld leaves the snapshot as it is: no field when the upstream sent none.
 */
export function addWithheld(snapshot: JsonObject, withheld: WithheldReasoning): void {
  if (withheld.entries.length === 0) return;
  const sent: unknown[] = Array.isArray(snapshot.input_transformations) ? snapshot.input_transformations : [];
  const copies = (entries: JsonObject[]) => entries.map((entry) => ({ ...entry }));
  // The gateway's own are in input order already: most snapshots (the upstream lists none) need no sort.
  if (sent.length === 0) {
    snapshot.input_transformations = copies(withheld.entries);
    return;
  }
  const listed = new Set(sent.map(idOf));
  const merged = [...sent, ...copies(withheld.entries.filter((entry) => !listed.has(entry.id)))];
  // Positions looked up, not searched for: a long agent context withholds hundreds of items, each snapshot.
  const positions = new Map(withheld.order.map((id, at) => [id, at]));
  const position = (entry: unknown): number => positions.get(idOf(entry) as string) ?? Number.MAX_SAFE_INTEGER;
  snapshot.input_transformations = merged.sort((a, b) => position(a) - position(b));
}

/** A copy of `response` with `withheld` added (a snapshot made without a normalizer's help). */
export function withWithheld<T extends JsonObject>(response: T, withheld: WithheldReasoning): T {
  if (withheld.entries.length === 0) return response;
  const copy = structuredClone(response);
  addWithheld(copy, withheld);
  return copy;
}
