/**
 * Maps database failures to the contract. Named constraints become named conflicts; an
 * unreachable or overloaded database becomes `503 database_unavailable`; anything else is a
 * generic 500. SQL and constraint details never reach the caller.
 */
import { conflict, HttpError, unauthorized, unavailable } from "./errors.ts";

/**
 * `409 session_already_live`: the streamer already has a session that is starting or live.
 * `start-session` answers it naming that session; a start that raced past its check meets the
 * unique index `stream_sessions_one_active_per_streamer`, answered here without the id.
 */
export function sessionAlreadyLive(sessionId?: string): HttpError {
  return conflict(
    "session_already_live",
    "You already have a session that is starting or live; end it first.",
    sessionId ? { sessionId } : undefined,
  );
}

/** `409 guardian_exists`: the address is already a guardian of this streamer (not revoked). */
export function guardianExists(): HttpError {
  return conflict("guardian_exists", "This guardian has already been added.");
}

/** `409 guardian_limit`: at most 10 guardians awaiting approval, pending or active. */
export function guardianLimit(): HttpError {
  return conflict(
    "guardian_limit",
    "You can have at most 10 guardians awaiting approval, pending or active.",
  );
}

/** Constraint names of the schema that are conflicts of the contract. */
const NAMED_CONFLICTS: Record<string, () => HttpError> = {
  stream_sessions_one_active_per_streamer: () => sessionAlreadyLive(),
  guardians_email_unique_per_streamer: guardianExists,
  guardians_limit: guardianLimit,
};

/**
 * Foreign keys from a row the caller writes for themselves to `auth.users`: a violation means a
 * validly signed token whose `sub` is no user (deleted, or never was), so `401 unauthorized`.
 */
const CALLER_IS_USER = new Set([
  "caller_is_user", // private.require_user
  "stream_sessions_streamer_id_fkey",
  "idempotency_keys_user_id_fkey",
  "guardians_streamer_id_fkey",
  "guardians_user_id_fkey",
  "recordings_streamer_id_fkey",
]);

const CONNECTION_CODES = new Set([
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
]);

interface DatabaseErrorLike {
  code?: unknown;
  constraint_name?: unknown;
  name?: unknown;
}

/** The SQLSTATE class-08 and other codes that mean "try again later". */
function isTransient(code: string): boolean {
  return code.startsWith("08") || code.startsWith("53") || code.startsWith("57") ||
    code === "40001" || code === "40P01" || CONNECTION_CODES.has(code);
}

/**
 * The contract's error for a database failure, or undefined when `error` is not one.
 * `23505` (unique) and `23514` (check) on a named constraint become that conflict.
 */
export function mapDatabaseError(error: unknown): HttpError | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, constraint_name: constraint } = error as DatabaseErrorLike;
  if (typeof code !== "string") return undefined;
  if (typeof constraint === "string" && Object.hasOwn(NAMED_CONFLICTS, constraint)) {
    return NAMED_CONFLICTS[constraint]();
  }
  if (code === "23503" && typeof constraint === "string" && CALLER_IS_USER.has(constraint)) {
    return unauthorized("The access token's user no longer exists.");
  }
  if (code === "23505") return conflict("conflict", "This conflicts with an existing record.");
  if (isTransient(code)) return unavailable("database", error);
  if (error.name === "PostgresError" || /^[0-9A-Z]{5}$/.test(code)) {
    return new HttpError(500, "internal_error", "Something went wrong on our side.", {
      cause: error,
    });
  }
  return undefined;
}
