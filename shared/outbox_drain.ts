/**
 * Asks `send-notification` to drain the email outbox now. A function whose change queued
 * emails (a guardian added, a recording ready, a session live or ended) calls
 * {@linkcode DrainRequester.request} after its transaction committed, so the emails go out in
 * seconds instead of at the next scheduled drain; the scheduled drain (pg_cron, every minute)
 * still sends whatever a lost request left behind.
 *
 * @example
 * ```ts
 * const drain = createDrainRequester({ ...config.functions, ...config.auth });
 * // after the commit, inside the handler:
 * drain.request(context.log);
 * ```
 */
import { SignJWT } from "jose";
import { runInBackground } from "./kernel/background.ts";
import type { Logger } from "./kernel/log.ts";

/** Options of {@linkcode createDrainRequester}. */
export interface DrainRequesterOptions {
  /** Base URL of the functions, as `functionsEnv` gives it (`…/functions/v1`). */
  functionsUrl: string;
  /** The service caller's bearer when set (`SUPABASE_SERVICE_ROLE_KEY`). */
  serviceRoleKey?: string;
  /** Otherwise a one-minute `service_role` token is signed with it (`SUPABASE_JWT_SECRET`). */
  jwtSecret?: string;
  /** Rows one requested drain may handle. @default {100} */
  limit?: number;
  /** How long to wait for the drain's answer. @default {30000} */
  timeoutMs?: number;
  /**
   * How long a follow-up drain (one requested while another was in flight) waits after the
   * drain before it, so that under load each drain takes what many commits queued instead of
   * one or two emails each. A request while idle drains at once. @default {500}
   */
  followUpDelayMs?: number;
  /** Waits `ms` milliseconds; injected by tests. @default {setTimeout} */
  wait?: (ms: number) => Promise<void>;
  /** The fetch to use. @default {globalThis.fetch} */
  fetch?: typeof fetch;
}

/** What `send-notification` answered. */
export interface DrainResult {
  sent: number;
  retried: number;
  failed: number;
  suppressed: number;
}

/** Requests outbox drains. */
export interface DrainRequester {
  /**
   * Requests a drain in the background and returns at once; failures are only logged.
   * Requests made while a drain is in flight are coalesced into one more drain, which starts
   * `followUpDelayMs` after it and sends whatever they queued: under load, one drain at a time
   * per isolate and at most one per delay, not one per change.
   */
  request(log: Logger): void;
  /** Requests a drain and waits for its answer; throws when it fails. */
  requestNow(): Promise<DrainResult>;
}

/** Creates a requester; without any service credential every request is skipped and logged. */
export function createDrainRequester(options: DrainRequesterOptions): DrainRequester {
  const url = `${options.functionsUrl.replace(/\/+$/, "")}/send-notification`;
  const limit = options.limit ?? 100;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const doFetch = options.fetch ?? fetch;
  const followUpDelayMs = options.followUpDelayMs ?? 500;
  const wait = options.wait ??
    ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const secret = options.jwtSecret ? new TextEncoder().encode(options.jwtSecret) : undefined;

  async function credential(): Promise<string | undefined> {
    if (options.serviceRoleKey) return options.serviceRoleKey;
    if (!secret) return undefined;
    return await new SignJWT({ role: "service_role" })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuedAt()
      .setExpirationTime("60s")
      .sign(secret);
  }

  async function requestNow(): Promise<DrainResult> {
    const bearer = await credential();
    if (!bearer) {
      throw new Error(
        "Cannot request an outbox drain: neither SUPABASE_SERVICE_ROLE_KEY nor SUPABASE_JWT_SECRET is set",
      );
    }
    const response = await doFetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify({ limit }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`Cannot drain the outbox: send-notification answered ${response.status}`);
    }
    return JSON.parse(text) as DrainResult;
  }

  let running = false;
  let pending: Logger | undefined;

  return {
    request(log) {
      if (running) {
        pending = log;
        return;
      }
      running = true;
      runInBackground(
        async () => {
          try {
            for (let next: Logger | undefined = log, followUp = false; next; next = pending) {
              if (followUp) await wait(followUpDelayMs);
              followUp = true;
              pending = undefined;
              const result = await requestNow();
              next.info("outbox drained", { drain: result });
            }
          } finally {
            running = false;
          }
        },
        log,
        "outbox drain request failed; the scheduled drain will send the emails",
      );
    },
    requestNow,
  };
}
