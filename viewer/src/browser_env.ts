/** The browser's timers and network status, for the state machines (`room.ts` types). */
import type { NetworkStatus, Timers } from "./room.ts";

/** {@linkcode Timers} over `setTimeout`. */
export const browserTimers: Timers = {
  after(ms, callback) {
    const id = setTimeout(callback, ms);
    return () => clearTimeout(id);
  },
};

/** {@linkcode NetworkStatus} over `navigator.onLine` and the window's online/offline events. */
export const browserNetwork: NetworkStatus = {
  online: () => navigator.onLine !== false,
  subscribe(listener) {
    const onOnline = () => listener(true);
    const onOffline = () => listener(false);
    globalThis.addEventListener("online", onOnline);
    globalThis.addEventListener("offline", onOffline);
    return () => {
      globalThis.removeEventListener("online", onOnline);
      globalThis.removeEventListener("offline", onOffline);
    };
  },
};
