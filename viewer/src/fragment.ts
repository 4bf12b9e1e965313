/**
 * The standalone page's address: email links open `{VIEWER_URL}/#/{route}?link={token}`. The
 * fragment never reaches a server; the page reads the token from it and then removes it from
 * the address bar (`address_bar.ts`).
 */

/** The pages the standalone viewer has. */
export const ROUTES = ["watch", "recording", "consent", "preferences", "approval"] as const;

/** One of {@linkcode ROUTES}. */
export type Route = typeof ROUTES[number];

/** What a fragment names. */
export interface FragmentAddress {
  /** The page, or `undefined` when the fragment names none the viewer has. */
  route?: Route;
  /** The link token, when the fragment carries one. */
  link?: string;
  /** The fragment to show once the token is removed, such as `#/watch`. */
  scrubbed: string;
}

/** Reads `#/route?link=…` (a leading `#` is optional). */
export function parseFragment(hash: string): FragmentAddress {
  const body = hash.replace(/^#/, "").replace(/^\/+/, "");
  const queryAt = body.indexOf("?");
  const path = (queryAt === -1 ? body : body.slice(0, queryAt)).replace(/\/+$/, "");
  const params = new URLSearchParams(queryAt === -1 ? "" : body.slice(queryAt + 1));
  const link = params.get("link")?.trim() || undefined;
  params.delete("link");
  const route = (ROUTES as readonly string[]).includes(path) ? path as Route : undefined;
  const rest = params.toString();
  return { route, link, scrubbed: `#/${path}${rest ? `?${rest}` : ""}` };
}
