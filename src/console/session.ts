// Who is signed in to the console: a tenant's API key or the operator's ADMIN_TOKEN, kept only in
// this tab's sessionStorage (gone when the tab closes; never in localStorage, cookies or the URL).

export type Mode = "tenant" | "admin";

export interface Session {
  mode: Mode;
  token: string;
}

const STORAGE_KEY = "responses-gateway.console.session";

export function loadSession(): Session | null {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null") as Partial<Session> | null;
    if (parsed === null || typeof parsed.token !== "string" || (parsed.mode !== "tenant" && parsed.mode !== "admin"))
      return null;
    return { mode: parsed.mode, token: parsed.token };
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session === null) sessionStorage.removeItem(STORAGE_KEY);
  else sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
}

/** A key as the page shows it: its start and end only. */
export const maskToken = (token: string): string =>
  token.length <= 12 ? "••••" : `${token.slice(0, 6)}…${token.slice(-4)}`;
