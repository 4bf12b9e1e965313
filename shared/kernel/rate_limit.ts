/** Fixed-window rate limits kept in Postgres, so every isolate shares them. */
import type { Clock } from "./clock.ts";
import type { Database } from "./db.ts";
import { HttpError } from "./errors.ts";

/** A limit: at most `limit` hits per `windowSeconds` per key. */
export interface RateLimit {
  /** Names the operation, e.g. `start-session`. */
  name: string;
  limit: number;
  windowSeconds: number;
}

/** Options of {@linkcode enforceRateLimit}. */
export interface EnforceRateLimitOptions {
  limit: RateLimit;
  /** Whose bucket the hit counts in: a user id, or a link's guardian and object. */
  subject: string;
  clock: Clock;
}

/**
 * Counts one hit for `subject` under `limit` and throws `429 rate_limited` with `Retry-After`
 * when the limit is exceeded.
 */
export async function enforceRateLimit(
  db: Database,
  options: EnforceRateLimitOptions,
): Promise<void> {
  const { limit, subject, clock } = options;
  // One statement, so one round trip: it is its own transaction. Asynchronous commit (set
  // for that transaction only): a crash may forget a few hits, which a limit can afford,
  // and the request does not wait for a WAL flush.
  const [row] = await db.sql<{ allowed: boolean; retry_after_seconds: number }[]>`
    select set_config('synchronous_commit', 'off', true), allowed, retry_after_seconds
      from private.rate_limit_hit(p_key => ${rateLimitKey(limit, subject)},
                                  p_limit => ${limit.limit},
                                  p_window_seconds => ${limit.windowSeconds},
                                  p_now => ${clock.now()})`;
  if (!row.allowed) throw rateLimited(limit, row.retry_after_seconds);
}

/** The bucket of `subject` under `limit`, as `private.rate_limit_hit` takes it. */
export function rateLimitKey(limit: RateLimit, subject: string): string {
  return `${limit.name}:${subject}`;
}

/** The `429 rate_limited` of a hit over `limit`, with `Retry-After`. */
export function rateLimited(limit: RateLimit, retryAfterSeconds: number): HttpError {
  const retryAfter = Math.max(1, retryAfterSeconds);
  return new HttpError(
    429,
    "rate_limited",
    `Too many requests: at most ${limit.limit} every ${limit.windowSeconds} seconds. Try again in ${retryAfter} seconds.`,
    { headers: { "retry-after": String(retryAfter) } },
  );
}
