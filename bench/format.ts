// Number and Markdown formatting for RESULTS.md. Used by bench/report.ts and bench/comparison.ts.

const missing = (value: number | undefined): value is undefined => value === undefined || !Number.isFinite(value);

/** `value` with `digits` decimals, or a dash. */
export const num = (value: number | undefined, digits = 1): string => (missing(value) ? "–" : value.toFixed(digits));
/** `value` rounded, with thousands separators, or a dash. */
export const int = (value: number | undefined): string =>
  missing(value) ? "–" : Math.round(value).toLocaleString("en-US");
/** A ratio as `1.23×`, or a dash. */
export const times = (value: number | undefined): string => (missing(value) ? "–" : `${value.toFixed(2)}×`);
/** Dollars with cents and thousands separators, as `$2,384.75`, or a dash. */
export const dollars = (value: number | undefined): string =>
  missing(value) ? "–" : `$${value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
/** A difference with its sign, as `+1.5`, or a dash. */
export const signed = (value: number | undefined): string =>
  missing(value) ? "–" : `${value >= 0 ? "+" : ""}${value.toFixed(1)}`;

const cell = (text: string): string => text.replaceAll("|", "\\|").replaceAll("\n", " ");

/** A Markdown table; `|` and line breaks inside cells are escaped. */
export function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
  ].join("\n");
}
