// A message's text, folded past FOLD_CHARS or FOLD_LINES behind "Show all": a 1 MB answer rendered
// whole is a page 100,000 px tall, with the chain, the timeline and the webhooks below it out of
// reach. Once shown it is the whole text in the page, so the browser's search in the page finds any of it.

import { useState } from "preact/hooks";
import { formatNumber } from "./common";

/** Characters shown before "Show all": a few screens of text. */
export const FOLD_CHARS = 20_000;
/** Lines shown before "Show all": a text of short lines is as tall as its lines, not its characters. */
export const FOLD_LINES = 200;

/** Where the fold cuts `value` (at its FOLD_LINES-th line's end, or FOLD_CHARS), or null when it is shown whole. */
function foldAt(value: string): { cut: number; byLines: boolean } | null {
  let lines = 0;
  for (let at = value.indexOf("\n"); at !== -1 && at < FOLD_CHARS; at = value.indexOf("\n", at + 1))
    if (++lines === FOLD_LINES) return { cut: at, byLines: true };
  return value.length > FOLD_CHARS ? { cut: FOLD_CHARS, byLines: false } : null;
}

const lineCount = (value: string) => value.split("\n").length;

export function LongText({ value }: { value: string }) {
  const [all, setAll] = useState(false);
  const fold = all ? null : foldAt(value);
  if (fold === null) return <div class="text">{value}</div>;
  return (
    <div class="text folded">
      {value.slice(0, fold.cut)}
      <p class="muted small">
        {fold.byLines
          ? `The first ${FOLD_LINES} lines of ${formatNumber(lineCount(value))} (${formatNumber(value.length)} characters).`
          : `The first ${formatNumber(FOLD_CHARS)} of ${formatNumber(value.length)} characters.`}{" "}
        <button type="button" onClick={() => setAll(true)}>
          Show all
        </button>
      </p>
    </div>
  );
}
