// The Node-side test oracles (test/node/oracle.ts) seen from the Workers tests: validation against
// OpenAI's OpenAPI document, and the type lists the installed `openai` SDK declares.

import { env } from "cloudflare:workers";

const ORACLE = env.UPSTREAM_BASE_URL.replace(/\/v1$/, "/__oracle");

export interface Validation {
  checked: number;
  failures: { index: number; type: string | null; errors: string[] }[];
}

/** Validates `objects` against the spec schema `schema` (`ResponseStreamEvent`: each event by its type). */
export async function validateAgainstSpec(schema: string, objects: unknown[]): Promise<Validation> {
  const response = await fetch(`${ORACLE}/validate`, { method: "POST", body: JSON.stringify({ schema, objects }) });
  if (!response.ok) throw new Error(`spec oracle: ${await response.text()}`);
  return response.json<Validation>();
}

/** The `type` tags of an SDK union (`Tool`, `ResponseInputItem`...). */
export async function sdkUnion(name: string): Promise<string[]> {
  const response = await fetch(`${ORACLE}/sdk?union=${encodeURIComponent(name)}`);
  if (!response.ok) throw new Error(`sdk oracle: ${await response.text()}`);
  return response.json<string[]>();
}

/** The property names of an SDK interface (`ResponseCreateParamsBase`). */
export async function sdkInterface(name: string): Promise<string[]> {
  const response = await fetch(`${ORACLE}/sdk?interface=${encodeURIComponent(name)}`);
  if (!response.ok) throw new Error(`sdk oracle: ${await response.text()}`);
  return response.json<string[]>();
}
