/**
 * Takes the link token out of the address bar as soon as the page starts, so it is not left in
 * the history, bookmarks or a screenshot, and keeps it for this tab only (`sessionStorage`), so
 * a reload still works. It is then sent only in the `x-link-token` header.
 */
import { type FragmentAddress, parseFragment } from "./fragment.ts";

const STORAGE_PREFIX = "vr-stream-viewer:link:";

/** The page and link of the current address; removes the token from the address bar. */
export function takeAddress(): FragmentAddress {
  const address = parseFragment(location.hash);
  if (address.link) {
    history.replaceState(
      history.state,
      "",
      `${location.pathname}${location.search}${address.scrubbed}`,
    );
    if (address.route) remember(address.route, address.link);
    return address;
  }
  return address.route ? { ...address, link: recall(address.route) } : address;
}

function remember(route: string, link: string): void {
  try {
    sessionStorage.setItem(STORAGE_PREFIX + route, link);
  } catch {
    // Storage refused (private mode): the link works until the tab is reloaded.
  }
}

function recall(route: string): string | undefined {
  try {
    return sessionStorage.getItem(STORAGE_PREFIX + route) ?? undefined;
  } catch {
    return undefined;
  }
}
