// Bar charts in plain SVG (no chart library: two shapes are all the page needs). Colours come from
// the stylesheet by series index, so the strict CSP needs no inline styles.

import { breakable, formatNumber } from "./common";

export interface Bar {
  label: string;
  value: number;
  note?: string;
}

/** Horizontal bars, one row each: label, bar, value. */
export function BarList({ bars, unit = "tokens" }: { bars: Bar[]; unit?: string }) {
  const max = Math.max(1, ...bars.map((bar) => bar.value));
  if (bars.length === 0) return <p class="muted">No usage in this range.</p>;
  return (
    <table class="bars">
      <tbody>
        {bars.map((bar, index) => (
          <tr key={bar.label}>
            <th class="mono">{breakable(bar.label)}</th>
            <td class="bar-cell">
              <svg
                viewBox="0 0 100 10"
                preserveAspectRatio="none"
                role="img"
                aria-label={`${bar.label}: ${bar.value} ${unit}`}
              >
                <rect class={`series-${index % COLOURS}`} x="0" y="0" height="10" width={(bar.value / max) * 100} />
              </svg>
            </td>
            <td class="num">{formatNumber(bar.value)}</td>
            <td class="num note">{bar.note ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export interface DaySeries {
  days: string[];
  series: { name: string; values: number[] }[];
}

/** Colours the stacked chart tells apart (`.series-0` … `.series-7`). */
const COLOURS = 8;

/**
 * At most `COLOURS` series: past that, the largest keep theirs and the rest are summed as one, so no
 * two series share a colour (a legend of ten models in eight colours reads wrong).
 */
function withinColours(data: DaySeries): DaySeries {
  if (data.series.length <= COLOURS) return data;
  const total = (series: DaySeries["series"][number]) => series.values.reduce((sum, value) => sum + value, 0);
  const ranked = [...data.series].sort((a, b) => total(b) - total(a));
  const kept = ranked.slice(0, COLOURS - 1);
  const rest = ranked.slice(COLOURS - 1);
  const other = {
    name: `${rest.length} other models`,
    values: data.days.map((_, day) => rest.reduce((sum, series) => sum + (series.values[day] ?? 0), 0)),
  };
  return { days: data.days, series: [...kept, other] };
}

/** Vertical bars per day, stacked by series (models), with a legend. */
export function StackedDays({ data: all }: { data: DaySeries }) {
  const data = withinColours(all);
  const totals = data.days.map((_, day) => data.series.reduce((sum, series) => sum + (series.values[day] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const width = Math.max(1, data.days.length) * 12;
  if (data.days.length === 0) return <p class="muted">No usage in this range.</p>;
  return (
    <figure class="days">
      <svg viewBox={`0 0 ${width} 100`} preserveAspectRatio="none" role="img" aria-label="Tokens by day">
        {data.days.map((day, dayIndex) => {
          let y = 100;
          return (
            <g key={day}>
              <title>
                {day}: {formatNumber(totals[dayIndex] ?? 0)} tokens
              </title>
              {data.series.map((series, seriesIndex) => {
                const height = ((series.values[dayIndex] ?? 0) / max) * 100;
                y -= height;
                return <rect class={`series-${seriesIndex}`} x={dayIndex * 12 + 1} y={y} width="10" height={height} />;
              })}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <span>{data.days[0]}</span>
        <span class="legend">
          {data.series.map((series, index) => (
            <span>
              <svg viewBox="0 0 10 10" class="swatch">
                <rect class={`series-${index}`} width="10" height="10" />
              </svg>
              {series.name}
            </span>
          ))}
        </span>
        <span>{data.days.at(-1)}</span>
      </figcaption>
    </figure>
  );
}
