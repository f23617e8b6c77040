// The gateway's structured log lines as a test sees them: every object logged with console.log, warn
// or error (src/observe/log.ts) in this isolate, where the Worker and its Durable Objects run, and a
// way to wait for one without sleeping blindly.

import { vi } from "vitest";
import { until } from "./hooks";

export type LogLine = Record<string, unknown> & { event: string; msg: string };

export interface LogCapture {
  /** Every line so far, oldest first. */
  all(): LogLine[];
  /** The console method that wrote `line` (its level). */
  levelOf(line: LogLine): "log" | "warn" | "error" | undefined;
  /** The lines that match `fields` (each given field equal). */
  matching(fields: Record<string, unknown>): LogLine[];
  /** Waits until `count` lines match `fields`; returns them. */
  wait(fields: Record<string, unknown>, count?: number): Promise<LogLine[]>;
  stop(): void;
}

/** Captures the gateway's lines from now on (quietly: they are not printed). */
export function captureLogLines(): LogCapture {
  const lines: LogLine[] = [];
  const levels = new WeakMap<LogLine, "log" | "warn" | "error">();
  const spies = (["log", "warn", "error"] as const).map((level) =>
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      const [line] = args;
      if (args.length === 1 && typeof line === "object" && line !== null && "event" in line) {
        lines.push(line as LogLine);
        levels.set(line as LogLine, level);
      }
    }),
  );
  const matching = (fields: Record<string, unknown>) =>
    lines.filter((line) => Object.entries(fields).every(([key, value]) => line[key] === value));
  return {
    all: () => [...lines],
    levelOf: (line) => levels.get(line),
    matching,
    wait: (fields, count = 1) =>
      until(
        () => Promise.resolve(matching(fields)),
        (found) => found.length >= count,
        `${count} log line(s) with ${JSON.stringify(fields)}`,
      ),
    stop: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}
