// The console's location, in the URL's hash so that a reload or a shared link opens the same view
// without any server-side routing: `#/` (responses, with filters), `#/responses/{id}`, `#/usage`,
// and the operator's `#/tenants`, `#/tenants/{id}` (a tenant's webhook deliveries) and `#/health`
// (shards and every tenant's failed and pending deliveries).

import { useEffect, useState } from "preact/hooks";

export interface Location {
  view: "list" | "response" | "usage" | "tenants" | "tenant" | "health";
  id?: string;
  params: URLSearchParams;
  /** The hash this was read from: which view is on the page, while `window.location.hash` may be ahead. */
  hash: string;
}

/** A path segment decoded; a malformed escape is kept as it came (it matches no id). */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function parseHash(hash: string): Location {
  return { ...parsePath(hash), hash };
}

function parsePath(hash: string): Omit<Location, "hash"> {
  const [path = "", search = ""] = hash.replace(/^#/, "").split("?", 2);
  const params = new URLSearchParams(search);
  const parts = path.split("/").filter((part) => part !== "");
  if (parts[0] === "responses" && parts[1] !== undefined) return { view: "response", id: decoded(parts[1]), params };
  if (parts[0] === "usage") return { view: "usage", params };
  if (parts[0] === "health") return { view: "health", params };
  if (parts[0] === "tenants")
    return parts[1] === undefined ? { view: "tenants", params } : { view: "tenant", id: decoded(parts[1]), params };
  return { view: "list", params };
}

export function hrefOf(path: string, params?: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params ?? {}))
    if (value !== undefined && value !== "") search.set(name, value);
  const text = search.toString();
  return `#${path}${text === "" ? "" : `?${text}`}`;
}

export function useLocation(): Location {
  const [location, setLocation] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const update = () => setLocation(parseHash(window.location.hash));
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return location;
}
