/**
 * Guardians as the contract shows them, the links that name one, and the owner-only SQL
 * functions that change them. Through the Data API no user writes a guardian row: every change
 * is one of the statements below, made by the edge functions as the functions' owner, each
 * checking itself who may do what (`20261206020000_guardian_gatekeeper.sql`, catalogued in
 * supabase/README.md):
 *
 * - `private.guardian_invite`: guardians POST by the streamer (awaiting_approval, approval email);
 * - `private.guardian_register`: guardians POST by the service (pending, consent email);
 * - `private.guardian_revoke`: guardians DELETE by the streamer or the primary guardian;
 * - `private.guardian_decide`: guardian-approval POST;
 * - `private.guardian_consent`: guardian-consent POST (binds a signed-in account);
 * - `private.guardian_bind_account`: a signed-in account presenting a watch link;
 * - `private.guardian_set_preferences`: notification-preferences POST;
 * - `private.consent_email_slot`: send-notification, before each consent email.
 *
 * A link is only as good as its guardian row: a revoked (or deleted) guardian's links fail at
 * once, whatever their expiry.
 */
import { bearerToken, type TokenVerifier, type UserClaims } from "./kernel/auth.ts";
import type { Database, Tx } from "./kernel/db.ts";
import { forbidden } from "./kernel/errors.ts";
import { invalidLink, type LinkClaims, type LinkSigner } from "./kernel/link.ts";
import type { Clock } from "./kernel/clock.ts";
import { enforceRateLimit, type RateLimit } from "./kernel/rate_limit.ts";

/** A guardian's role: the parent the service registered, or anyone else. */
export type GuardianRole = "primary" | "viewer";

/** A guardian's state, in the only order it moves (revoked from any of them). */
export type GuardianStatus =
  | "awaiting_approval"
  | "pending"
  | "active"
  | "revoked";

/** A `guardians` row. */
export interface GuardianRow {
  id: string;
  streamer_id: string;
  email: string;
  name: string | null;
  role: GuardianRole;
  status: GuardianStatus;
  notify_stream_started: boolean;
  notify_stream_ended: boolean;
  notify_recording_ready: boolean;
  created_at: Date;
}

/** The per-kind email choices, as the contract names them. */
export interface NotifyChoices {
  streamStarted: boolean;
  streamEnded: boolean;
  recordingReady: boolean;
}

/** The contract's Guardian object. */
export function toGuardian(row: GuardianRow) {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    status: row.status,
    notify: {
      streamStarted: row.notify_stream_started,
      streamEnded: row.notify_stream_ended,
      recordingReady: row.notify_recording_ready,
    },
    createdAt: row.created_at.toISOString(),
  };
}

/** A row the owner-only functions return as `to_jsonb(guardian)`. */
export function guardianFromJson(json: Record<string, unknown>): GuardianRow {
  return {
    id: String(json.id),
    streamer_id: String(json.streamer_id),
    email: String(json.email),
    name: json.name === null ? null : String(json.name),
    role: json.role as GuardianRole,
    status: json.status as GuardianStatus,
    notify_stream_started: json.notify_stream_started === true,
    notify_stream_ended: json.notify_stream_ended === true,
    notify_recording_ready: json.notify_recording_ready === true,
    created_at: new Date(String(json.created_at)),
  };
}

/** `select … from public.guardians g` with the columns of {@linkcode GuardianRow}. */
export function selectGuardians(tx: Tx) {
  return tx`
    select g.id, g.streamer_id, g.email, g.name, g.role, g.status, g.notify_stream_started,
           g.notify_stream_ended, g.notify_recording_ready, g.created_at
      from public.guardians g`;
}

/** One guardian visible in this transaction, or undefined. */
export async function findGuardian(
  tx: Tx,
  guardianId: string,
): Promise<GuardianRow | undefined> {
  const [row] = await tx<GuardianRow[]>`${selectGuardians(tx)} where g.id = ${guardianId}`;
  return row;
}

/**
 * Streamer and guardian operations refuse anonymous sign-ins (`is_anonymous: true`): such an
 * account proves nothing about who holds it.
 */
export function requireFullAccount(user: { is_anonymous?: unknown }): void {
  if (user.is_anonymous === true) {
    throw forbidden(
      "Anonymous accounts cannot manage or watch streams; sign in with an email.",
    );
  }
}

/**
 * The signed-in account that presents a link beside it (consent, watch): verified when the
 * request carries `Authorization` (`401 unauthorized` when that token is bad, so a typo never
 * silently binds nothing; `403` for an anonymous sign-in), undefined without one. Pass its `sub`
 * on to bind the link's guardian to it ({@linkcode bindGuardianAccount}).
 */
export async function accountBesideLink(
  request: Request,
  verifier: TokenVerifier,
): Promise<UserClaims | undefined> {
  if (!request.headers.has("authorization")) return undefined;
  const user = await verifier.verifyUser(bearerToken(request));
  requireFullAccount(user);
  return user;
}

/** Link doors: 30 requests a minute per link, then `429 rate_limited` with `Retry-After`. */
export const LINK_RATE_LIMIT: RateLimit = {
  name: "link",
  limit: 30,
  windowSeconds: 60,
};

/**
 * Counts one request of a verified link against {@linkcode LINK_RATE_LIMIT}. The bucket is the
 * link's type, guardian and object, so fresh copies of one link share it.
 */
export async function enforceLinkRateLimit(
  db: Database,
  link: LinkClaims,
  clock: Clock,
): Promise<void> {
  await enforceRateLimit(db, {
    limit: LINK_RATE_LIMIT,
    subject: `${link.type}:${link.guardianId}:${link.objectId}`,
    clock,
  });
}

/** Options of {@linkcode resolveGuardianLink}. */
export interface ResolveGuardianLinkOptions {
  /** Verifies the link token. */
  signer: LinkSigner;
  /** The link token the caller presented. */
  token: string;
  /** The kind of link the door takes; a link of another kind is invalid. */
  type: "consent" | "preferences";
  /** Counts the request against {@linkcode LINK_RATE_LIMIT} with this clock. @default {not counted} */
  rateLimitClock?: Clock;
}

/**
 * The guardian a consent or preferences link names, or `401 invalid_link` when the token is
 * bad, expired, of another type, or its guardian is revoked or gone. Both links are about the
 * guardian itself, so their object is the guardian's id too.
 */
export async function resolveGuardianLink(
  db: Database,
  options: ResolveGuardianLinkOptions,
): Promise<GuardianRow> {
  const link = await options.signer.verify(options.token, options.type);
  if (link.objectId !== link.guardianId) throw invalidLink();
  if (options.rateLimitClock) {
    await enforceLinkRateLimit(db, link, options.rateLimitClock);
  }
  const guardian = await db.asService((tx) => findGuardian(tx, link.guardianId));
  if (!guardian || guardian.status === "revoked") throw invalidLink();
  return guardian;
}

/**
 * Binds the guardian to the signed-in account that presented its link (consent or watch):
 * `private.guardian_bind_account`. True when the guardian is (now or already) bound to that
 * account; false when it is bound to another, is the streamer's own, or the account already has
 * a row of that streamer.
 */
export async function bindGuardianAccount(
  db: Database,
  binding: { guardianId: string; userId: string },
): Promise<boolean> {
  const [row] = await db.sql<{ bound: boolean }[]>`
    select private.guardian_bind_account(p_guardian_id => ${binding.guardianId},
                                         p_user_id => ${binding.userId}) as bound`;
  return row.bound;
}
