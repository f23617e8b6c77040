// The history console: sign-in, then the responses list, one response, and usage, chosen by the
// URL's hash. Served by the Worker from its static assets (src/routes/console.ts); see docs/console.md.

import { render } from "preact";
import { useRef, useState } from "preact/hooks";
import { useLocation } from "./route";
import { loadSession, maskToken, saveSession, type Session } from "./session";
import { ResponseDetail } from "./views/response-detail";
import { ResponseList } from "./views/response-list";
import { SignIn } from "./views/sign-in";
import { UsageView } from "./views/usage";

function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const location = useLocation();
  // The list as last seen (its filters and page): a response's "« Responses" leads back to it.
  const list = useRef("#/");
  if (location.view === "list") list.current = window.location.hash || "#/";

  function signIn(next: Session | null) {
    list.current = "#/";
    saveSession(next);
    setSession(next);
  }

  if (session === null) return <SignIn onSignIn={signIn} />;
  return (
    <>
      <nav class="top">
        <strong>Responses gateway</strong>
        <a href="#/" class={location.view !== "usage" ? "active" : ""}>
          Responses
        </a>
        <a href="#/usage" class={location.view === "usage" ? "active" : ""}>
          Usage
        </a>
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
      ) : (
        <ResponseList session={session} params={location.params} />
      )}
    </>
  );
}

render(<App />, document.getElementById("app") as HTMLElement);
