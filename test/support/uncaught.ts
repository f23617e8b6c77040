// Watches for errors nobody handled in the isolate the Worker and its Durable Objects run in (the
// tests' own): unhandled promise rejections, and errors the gateway logged with console.error.
//
// Why this covers "the Worker never throws unhandled": a request handler's error is caught by the
// router (logged, then a 500), an alarm's by the alarm (logged), a Durable Object's background
// work (`waitUntil`) by `ResponseRun.#background` (logged), and any other rejected promise nobody
// awaited raises `unhandledrejection` here. (workerd prints a rejected `waitUntil` promise to its
// own stderr only, which a test cannot see: hence the rule that every `waitUntil` task is wrapped.)

import { vi } from "vitest";

export interface ErrorWatch {
  /** The errors logged since the last `expectNone`. */
  logged(): string[];
  /** Fails if anything went unhandled, or was logged as an error, other than what `expected` allows. */
  expectNone(expected?: RegExp[]): void;
  stop(): void;
}

export function watchUnhandled(): ErrorWatch {
  const rejections: unknown[] = [];
  const onRejection = (event: Event) => rejections.push((event as PromiseRejectionEvent).reason);
  globalThis.addEventListener("unhandledrejection", onRejection);
  const logged = vi.spyOn(console, "error");
  // The gateway's lines are objects (src/observe/log.ts): read as their JSON.
  const lines = () =>
    logged.mock.calls.map((args) => args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" "));
  return {
    logged: lines,
    expectNone(expected = []) {
      const unexpected = lines().filter((line) => !expected.some((pattern) => pattern.test(line)));
      logged.mockClear();
      const reasons = rejections.splice(0).map(String);
      if (reasons.length > 0 || unexpected.length > 0)
        throw new Error(`unhandled: ${JSON.stringify(reasons)}; logged errors: ${JSON.stringify(unexpected)}`);
    },
    stop() {
      globalThis.removeEventListener("unhandledrejection", onRejection);
      logged.mockRestore();
    },
  };
}
