/// <reference types="vite/client" />
// docs/chat-completions.md says what support.ts does: every tool, item and parameter has its row,
// with the same handling and note, so the page cannot drift from the code.

import { describe, expect, it } from "vitest";
import {
  ITEM_SUPPORT,
  PARAM_SUPPORT,
  TOOL_SUPPORT,
  type Support,
} from "../../../src/upstream/chat-completions/support";

const page = Object.values(
  import.meta.glob<string>("../../../docs/chat-completions.md", { query: "?raw", import: "default", eager: true }),
)[0] as string;

const HANDLING = {
  translated: "translated",
  gateway: "done by the gateway",
  omitted: "left out",
  refused: "refused (400)",
};

/** The table rows of the page's section `heading`, by their first cell (`name`). */
function rows(heading: string): Map<string, string[]> {
  const section = page.split("\n## ").find((part) => part.startsWith(heading)) ?? "";
  return new Map(
    section
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .map((line) => line.split("|").map((cell) => cell.trim()))
      .map((cells) => [cells[1]?.replaceAll("`", "") ?? "", cells.slice(2, 4)]),
  );
}

describe("docs/chat-completions.md", () => {
  it.each([
    ["Tools", TOOL_SUPPORT],
    ["Input items", ITEM_SUPPORT],
    ["Create parameters", PARAM_SUPPORT],
  ] as [string, Record<string, Support>][])(
    "lists every entry of its section %s with its handling and note",
    (heading, table) => {
      const listed = rows(heading);
      expect([...listed.keys()].sort()).toEqual(Object.keys(table).sort());
      for (const [name, support] of Object.entries(table))
        expect(listed.get(name), name).toEqual([HANDLING[support.handling], support.note.replaceAll("|", "\\|")]);
    },
  );
});
