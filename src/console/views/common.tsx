// Small pieces every view uses: loading a value with its error, status badges, times, and JSON.

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiFailure } from "../api";

export type Loaded<T> = { state: "loading" } | { state: "error"; message: string } | { state: "ready"; value: T };

/** Runs `load` whenever `key` changes; a stale answer (the key changed meanwhile) is dropped. */
export function useLoad<T>(load: () => Promise<T>, key: string): [Loaded<T>, () => void] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading" });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setLoaded({ state: "loading" });
    load().then(
      (value) => current && setLoaded({ state: "ready", value }),
      (error: unknown) => current && setLoaded({ state: "error", message: messageOf(error) }),
    );
    return () => {
      current = false;
    };
    // `load` is a fresh closure on every render; `key` says when it asks for something else.
  }, [key, round]);
  return [loaded, () => setRound((n) => n + 1)];
}

export const messageOf = (error: unknown): string =>
  error instanceof ApiFailure || error instanceof Error ? error.message : String(error);

export function ErrorBox({ message }: { message: string }) {
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

export function Show<T>({ loaded, children }: { loaded: Loaded<T>; children: (value: T) => ComponentChildren }) {
  if (loaded.state === "loading") return <p class="muted">Loading…</p>;
  if (loaded.state === "error") return <ErrorBox message={loaded.message} />;
  return <>{children(loaded.value)}</>;
}

export function Status({ status }: { status: string }) {
  return <span class={`status status-${status}`}>{status.replace("_", " ")}</span>;
}

/** A unix time in the reader's local time, with the UTC time as its title. */
export function Time({ seconds }: { seconds: number | null | undefined }) {
  if (typeof seconds !== "number") return <span class="muted">—</span>;
  const date = new Date(seconds * 1000);
  return (
    <time dateTime={date.toISOString()} title={date.toISOString()}>
      {date.toLocaleString()}
    </time>
  );
}

/** A sealed blob (reasoning's or a compaction's `encrypted_content`) by its size: its text means nothing to a reader. */
const sealedBySize = (key: string, value: unknown): unknown =>
  key === "encrypted_content" && typeof value === "string"
    ? `[sealed, ${value.length.toLocaleString("en-US")} characters]`
    : value;

/**
 * `lazy`: the text is built when the reader first opens it, not with the page: a long timeline's rows
 * (a 1 MB answer's last events hold it whole, megabytes of text folded away).
 * `tabIndex`: -1 takes its toggle out of the Tab order (a list of them that is one Tab stop).
 */
export function Json({
  value,
  open = false,
  lazy = false,
  tabIndex,
}: {
  value: unknown;
  open?: boolean;
  lazy?: boolean;
  tabIndex?: number;
}) {
  const [opened, setOpened] = useState(open || !lazy);
  return (
    <details class="json" open={open} onToggle={(event) => event.currentTarget.open && setOpened(true)}>
      <summary tabIndex={tabIndex}>JSON</summary>
      {opened && <pre>{JSON.stringify(value, sealedBySize, 2)}</pre>}
    </details>
  );
}

/**
 * A model's or a tenant's name with a break opportunity after each separator (`text:4#run-1`): a narrow
 * column wraps it there, not mid-word ("mock-la|rge"); a part wider than the column still breaks.
 */
export const breakable = (name: string) =>
  name.split(/(?<=[-_:/#.@])/).map((part, index) => (index === 0 ? part : [<wbr />, part]));

export const formatNumber = (value: number): string => value.toLocaleString("en-US");

export const formatDollars = (value: number): string =>
  value >= 1 ? `$${value.toFixed(2)}` : value >= 0.01 ? `$${value.toFixed(4)}` : `$${value.toPrecision(3)}`;

/** A string field of an untrusted object (or a form value), or "" when it is not a string. */
export const text = (value: unknown): string => (typeof value === "string" ? value : "");
