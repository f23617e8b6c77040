// The history console: sign-in, then the responses list, one response, usage and (the operator)
// tenants and health, chosen by the URL's hash. Served by the Worker from its static assets (src/routes/console.ts); see docs/console.md.

import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { onRefused } from "./api";
import { useLocation } from "./route";
import { loadSession, maskToken, saveSession, type Session } from "./session";
import { HealthView } from "./views/health";
import { ResponseDetail } from "./views/response-detail";
import { ResponseList } from "./views/response-list";
import { SignIn } from "./views/sign-in";
import { TenantView } from "./views/tenant";
import { TenantList } from "./views/tenants";
import { UsageView } from "./views/usage";

function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [notice, setNotice] = useState<string | null>(null);
  const location = useLocation();
  // The list as last seen (its filters and page): a response's "« Responses" leads back to it.
  const list = useRef("#/");
  if (location.view === "list") list.current = window.location.hash || "#/";

  // Signing in or out replaces the whole page and the focused control with it: focus goes to the new
  // view's first control (the list's first filter, the sign-in's first choice), not to <body>, where
  // the next Tab would start again at the top. A view with none yet (still loading) takes it itself.
  // The hash of a view the sign-in chose (Health) is awaited: its hashchange comes a render after the
  // session, and focus given to the view before it would go with that view. "": the view shown next.
  const moveFocus = useRef<string | null>(null);
  useEffect(() => {
    const awaited = moveFocus.current;
    if (awaited === null || (session !== null && awaited !== "" && location.hash !== awaited)) return;
    moveFocus.current = null;
    const main = document.querySelector<HTMLElement>("main");
    const control = main?.querySelector<HTMLElement>("input, select, textarea, button, a[href]");
    if (control) return control.focus();
    if (main) {
      main.tabIndex = -1;
      main.focus();
    }
  }, [session, location]);

  function signIn(next: Session | null, landing?: string) {
    moveFocus.current = landing ?? "";
    list.current = "#/";
    if (landing !== undefined) window.location.hash = landing;
    setNotice(null);
    saveSession(next);
    setSession(next);
  }

  // A key revoked (or an admin token changed) since sign-in: the session ends at its next read, and
  // the sign-in page says why. The sign-in check's own refusal is not the session's.
  useEffect(() => {
    onRefused((refusedSession, failure) => {
      if (refusedSession.token !== loadSession()?.token) return;
      saveSession(null);
      moveFocus.current = "";
      setSession(null);
      setNotice(
        `Signed out: the gateway no longer accepts this ${refusedSession.mode === "admin" ? "admin token" : "key"}. ${failure.message}`,
      );
    });
  }, []);

  if (session === null) return <SignIn onSignIn={signIn} notice={notice} />;
  return (
    <>
      <nav class="top">
        <strong>Responses gateway</strong>
        <a href="#/" class={location.view === "list" || location.view === "response" ? "active" : ""}>
          Responses
        </a>
        <a href="#/usage" class={location.view === "usage" ? "active" : ""}>
          Usage
        </a>
        {session.mode === "admin" && (
          <>
            <a href="#/tenants" class={location.view.startsWith("tenant") ? "active" : ""}>
              Tenants
            </a>
            <a href="#/health" class={location.view === "health" ? "active" : ""}>
              Health
            </a>
          </>
        )}
        <span class="who">
          {session.mode === "admin" ? "Operator (every tenant)" : `Key ${maskToken(session.token)}`}
          <button type="button" onClick={() => signIn(null)}>
            Sign out
          </button>
        </span>
      </nav>
      {location.view === "response" && location.id !== undefined ? (
        <ResponseDetail key={location.id} session={session} id={location.id} back={list.current} />
      ) : location.view === "usage" ? (
        <UsageView session={session} params={location.params} />
      ) : session.mode === "admin" && location.view === "tenants" ? (
        <TenantList session={session} params={location.params} />
      ) : session.mode === "admin" && location.view === "health" ? (
        <HealthView session={session} params={location.params} />
      ) : session.mode === "admin" && location.view === "tenant" && location.id !== undefined ? (
        <TenantView key={location.id} session={session} id={location.id} params={location.params} />
      ) : (
        <ResponseList session={session} params={location.params} />
      )}
    </>
  );
}

render(<App />, document.getElementById("app") as HTMLElement);
