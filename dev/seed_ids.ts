/**
 * The fixed ids and emails of `supabase/seed.sql`, for the dev server, demos and tests.
 * Keep both files in step.
 *
 * @module
 */

/**
 * Streamer A: has an active primary guardian (bound to GUARDIAN_USER), a revoked and a pending
 * guardian, and one ended session.
 */
export const STREAMER_A = "11111111-1111-4111-8111-111111111111";
export const STREAMER_A_EMAIL = "streamer@example.test";

/** Streamer B: no guardians, no sessions. */
export const STREAMER_B = "22222222-2222-4222-8222-222222222222";
export const STREAMER_B_EMAIL = "other-streamer@example.test";

/** The account of streamer A's active primary guardian (the parent who approves invitations). */
export const GUARDIAN_USER = "33333333-3333-4333-8333-333333333333";
export const GUARDIAN_USER_EMAIL = "parent@example.test";

/** The `guardians` row making GUARDIAN_USER the active primary guardian of streamer A. */
export const GUARDIAN_A_ROW = "44444444-4444-4444-8444-444444444444";

/** The account of a guardian streamer A revoked. */
export const REVOKED_USER = "55555555-5555-4555-8555-555555555555";
export const REVOKED_USER_EMAIL = "revoked-parent@example.test";

/** The revoked `guardians` row of REVOKED_USER for streamer A. */
export const REVOKED_ROW = "66666666-6666-4666-8666-666666666666";

/** A pending guardian of streamer A with no account. */
export const PENDING_ROW = "77777777-7777-4777-8777-777777777777";
export const PENDING_EMAIL = "pending-parent@example.test";

/** Streamer A's ended demo session. */
export const DEMO_SESSION = "88888888-8888-4888-8888-888888888888";

/** The ready (uploaded) recording of DEMO_SESSION. */
export const DEMO_RECORDING = "99999999-9999-4999-8999-999999999999";
