/**
 * Work that should outlive the response: on Supabase's edge runtime it is handed to
 * `EdgeRuntime.waitUntil`, which keeps the isolate alive until it settles; elsewhere (the local
 * server, tests) it simply runs on. Either way a failure is logged, never thrown at anyone.
 */
import { describeError, type Logger } from "./log.ts";

interface EdgeRuntimeLike {
  waitUntil?: (promise: Promise<unknown>) => void;
}

/** Whether the code runs in Supabase's edge runtime (it has `EdgeRuntime.waitUntil`). */
export function hasWaitUntil(): boolean {
  const runtime = (globalThis as { EdgeRuntime?: EdgeRuntimeLike }).EdgeRuntime;
  return typeof runtime?.waitUntil === "function";
}

/**
 * Runs `work` after the response without awaiting it. A rejection is logged as a warning with
 * `what` as its message; nothing else observes it.
 */
export function runInBackground(work: () => Promise<unknown>, log: Logger, what: string): void {
  const guarded = (async () => {
    try {
      await work();
    } catch (error) {
      log.warn(what, describeError(error));
    }
  })();
  const runtime = (globalThis as { EdgeRuntime?: EdgeRuntimeLike }).EdgeRuntime;
  if (typeof runtime?.waitUntil === "function") runtime.waitUntil(guarded);
}
