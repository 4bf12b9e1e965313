/**
 * When a failed email is tried again: exponential backoff with jitter, never sooner than the
 * provider's `Retry-After`, and a limit on attempts after which the row fails visibly.
 */

/** The first retry waits about this long. */
export const RETRY_BASE_SECONDS = 30;

/** No retry waits longer than this (besides a longer `Retry-After`). */
export const RETRY_CAP_SECONDS = 3600;

/**
 * Attempts before a row that keeps failing transiently is marked failed: with the delays
 * above, an outage of 4.5 hours at the least (6.5 on average, with jitter) delays emails without
 * losing any.
 */
export const MAX_ATTEMPTS = 16;

/** A `Retry-After` longer than a day is not believed. */
const RETRY_AFTER_LIMIT_SECONDS = 24 * 3600;

/** Options of {@linkcode retryDelaySeconds}. */
export interface RetryDelayOptions {
  /** Uniform in [0, 1). @default {Math.random} */
  random?: () => number;
  /** What the provider asked for (429 `Retry-After`); the delay is at least this. */
  retryAfterSeconds?: number;
}

/**
 * Seconds to wait after the `attempt`-th failed attempt (1-based): "equal jitter", between half
 * and all of `min(cap, base · 2^(attempt-1))`, so retries of many rows spread out without ever
 * coming back almost at once.
 */
export function retryDelaySeconds(
  attempt: number,
  options: RetryDelayOptions = {},
): number {
  const random = options.random ?? Math.random;
  const exponential = Math.min(
    RETRY_CAP_SECONDS,
    RETRY_BASE_SECONDS * 2 ** Math.max(0, attempt - 1),
  );
  const jittered = exponential / 2 + random() * (exponential / 2);
  const asked = Math.min(
    options.retryAfterSeconds ?? 0,
    RETRY_AFTER_LIMIT_SECONDS,
  );
  return Math.ceil(Math.max(jittered, asked));
}

/**
 * Seconds a `Retry-After` header asks for: delay-seconds or an HTTP date (RFC 9110). Undefined
 * when absent or unreadable.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: Date,
): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now.getTime()) / 1000));
}
