/**
 * What pg_cron runs in production, run locally by `deno task dev`: the outbox drain
 * (`send-notification`) and `reconcile`, as the service (a `service_role` token signed with
 * `SUPABASE_JWT_SECRET`), every few seconds, so every email arrives by itself.
 * See {@linkcode startSchedules}.
 */
import { SignJWT } from "jose";

/** Options of {@linkcode startSchedules}. */
export interface ScheduleOptions {
  /** `http://127.0.0.1:PORT/functions/v1`. */
  functionsUrl: string;
  jwtSecret: string;
  /** @default {3000} */
  drainEveryMs?: number;
  /** @default {30000} */
  reconcileEveryMs?: number;
  log?: (line: string) => void;
}

/** Starts both schedules; the returned function stops them. */
export function startSchedules(options: ScheduleOptions): () => Promise<void> {
  let stopped = false;
  const running = new Set<Promise<void>>();
  async function serviceToken(): Promise<string> {
    return await new SignJWT({ role: "service_role" })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(options.jwtSecret));
  }
  function every(name: string, ms: number, body: unknown) {
    async function once() {
      try {
        const response = await fetch(`${options.functionsUrl}/${name}`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${await serviceToken()}`,
            "content-type": "application/json",
          },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(20_000),
        });
        await response.body?.cancel();
        if (!response.ok) options.log?.(`schedule: ${name} answered ${response.status}`);
      } catch (error) {
        if (!stopped) options.log?.(`schedule: ${name} failed: ${error}`);
      }
    }
    const timer = setInterval(() => {
      const run = once();
      running.add(run);
      run.finally(() => running.delete(run));
    }, ms);
    return timer;
  }
  const timers = [
    every("send-notification", options.drainEveryMs ?? 3000, {}),
    every("reconcile", options.reconcileEveryMs ?? 30_000, {}),
  ];
  return async () => {
    stopped = true;
    for (const timer of timers) clearInterval(timer);
    await Promise.allSettled([...running]);
  };
}
