/** Reachability checks of the dependencies `health` reports on. */
import type { Clock } from "../../../shared/kernel/clock.ts";

/** The outcome of one check. */
export interface CheckResult {
  status: "ok" | "down";
  latencyMs: number;
}

/** A named dependency check. */
export type Check = () => Promise<CheckResult>;

/** Times `work`: ok when it resolves within `timeoutMs`, down when it throws or times out. */
export async function timed(work: (signal: AbortSignal) => Promise<unknown>, timeoutMs: number) {
  const started = performance.now();
  const signal = AbortSignal.timeout(timeoutMs);
  let status: CheckResult["status"] = "ok";
  try {
    await Promise.race([
      work(signal),
      new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
    ]);
  } catch {
    status = "down";
  }
  return { status, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
}

/**
 * Up when the service answers HTTP at all below 500: a 401 from an API that wants a key still
 * proves it is reachable. Credentials are never sent.
 */
export function httpProbe(url: string, timeoutMs: number): Check {
  return () =>
    timed(async (signal) => {
      const response = await fetch(url, { signal, redirect: "manual" });
      await response.body?.cancel();
      if (response.status >= 500) throw new Error(`status ${response.status}`);
    }, timeoutMs);
}

/** Remembers a check's result for `ttlSeconds`, so frequent probes don't hammer providers. */
export function cached(check: Check, ttlSeconds: number, clock: Clock): Check {
  let last: { at: number; result: CheckResult } | undefined;
  return async () => {
    const now = clock.now().getTime();
    if (last && now - last.at < ttlSeconds * 1000) return last.result;
    const result = await check();
    last = { at: now, result };
    return result;
  };
}
