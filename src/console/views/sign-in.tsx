// Sign-in: a tenant's API key (its own history) or the operator's ADMIN_TOKEN (every tenant's). The
// token is checked with one read before it is kept, in sessionStorage only: a tenant's list of one
// response, or the operator's GET /admin/shards, which also says where the operator lands: Health
// while a shard is behind or unreadable (the lists across tenants then fail), else Responses.

import { useState } from "preact/hooks";
import { getJson, responsesPath, type List } from "../api";
import type { Mode, Session } from "../session";
import { ErrorBox, messageOf } from "./common";
import { needsCare, type Shard } from "./health";

/**
 * `notice`: why the last session ended, when the gateway ended it (a revoked key). `onSignIn` is told
 * the view to open instead of the one in the URL, if any.
 */
export function SignIn({
  onSignIn,
  notice = null,
}: {
  onSignIn: (session: Session, landing?: string) => void;
  notice?: string | null;
}) {
  const [mode, setMode] = useState<Mode>("tenant");
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    const session = { mode, token: token.trim() };
    if (session.token === "") return setError(mode === "admin" ? "Enter the admin token." : "Enter an API key.");
    setBusy(true);
    setError(null);
    try {
      // The operator's check is GET /admin/shards, which answers (and says so) while a shard is not
      // migrated or down: that must not keep them out of the view that shows it (Health).
      if (mode === "admin") {
        const shards = await getJson<List<Shard>>(session, "/admin/shards");
        onSignIn(session, shards.data.some(needsCare) ? "#/health" : undefined);
      } else {
        await getJson(session, `${responsesPath(session)}?limit=1`);
        onSignIn(session);
      }
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="sign-in">
      <h1>Responses gateway</h1>
      <p class="muted">Stored responses, their events, webhooks and usage.</p>
      {notice !== null && error === null && <ErrorBox message={notice} />}
      <form onSubmit={(event) => void submit(event)}>
        <fieldset>
          <legend>Sign in with</legend>
          <label>
            <input type="radio" name="mode" checked={mode === "tenant"} onChange={() => setMode("tenant")} /> an API key
            (your own history)
          </label>
          <label>
            <input type="radio" name="mode" checked={mode === "admin"} onChange={() => setMode("admin")} /> the admin
            token (every tenant)
          </label>
        </fieldset>
        <label>
          {mode === "admin" ? "Admin token" : "API key"}
          <input
            name="token"
            type="password"
            autocomplete="off"
            value={token}
            onInput={(event) => setToken(event.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
        {error !== null && <ErrorBox message={error} />}
        <p class="muted small">
          The key stays in this tab only (sessionStorage) and goes nowhere but this gateway. In pass-through mode the
          gateway does not check keys itself: a key it has never seen shows an empty history.
        </p>
      </form>
    </main>
  );
}
