/**
 * Draining the email outbox. Due rows are claimed in small batches (`for update skip locked`,
 * then a lease in `locked_until` that outlives the claiming transaction), so drains running at
 * once never take the same row; each claimed row is then suppressed, sent, retried later or
 * failed, and its outcome recorded as soon as it is known, so a crash can repeat at most the
 * emails that were in flight.
 *
 * Consent emails are rationed per address: at most 3 per rolling 24 hours across all streamers
 * (`private.consent_email_slot`); the rest wait in the outbox until a slot frees, and none is lost.
 */
import type { Clock } from "../../../shared/kernel/clock.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import { describeError, type Logger } from "../../../shared/kernel/log.ts";
import { MAX_ATTEMPTS, retryDelaySeconds } from "./backoff.ts";
import { DeliveryError, type Mailer, type OutgoingEmail } from "./mailer.ts";
import type { Notification, NotificationKind } from "./render.ts";
import type { GuardianRole, GuardianStatus } from "../../../shared/guardians.ts";

/** What one drain did, as `send-notification` answers it. */
export interface DrainCounts {
  sent: number;
  retried: number;
  failed: number;
  suppressed: number;
}

/** An outbox row as claimed, with what deciding and rendering it needs. */
export interface ClaimedRow {
  id: string;
  kind: NotificationKind;
  attempts: number;
  guardian_id: string;
  guardian_email: string;
  guardian_name: string | null;
  guardian_role: GuardianRole;
  guardian_status: GuardianStatus;
  /** The address turned every email off through a preferences link (no consent email). */
  address_unsubscribed: boolean;
  notify_stream_started: boolean;
  notify_stream_ended: boolean;
  notify_recording_ready: boolean;
  streamer_name: string | null;
  session_id: string | null;
  session_title: string | null;
  session_started_at: Date | null;
  session_ended_at: Date | null;
  session_duration_seconds: string | null;
  recording_id: string | null;
  recording_status: string | null;
  recording_duration_seconds: string | null;
  /** The invited guardian an approval email asks about. */
  invitee_id: string | null;
  invitee_email: string | null;
  invitee_name: string | null;
  invitee_status: GuardianStatus | null;
}

/** Options of {@linkcode drainOutbox}. */
export interface DrainOptions {
  db: Database;
  mailer: Mailer;
  render: (notification: Notification) => Promise<OutgoingEmail>;
  clock: Clock;
  log: Logger;
  /** Most rows this drain handles. */
  limit: number;
  /** Emails in flight at once, which is also the size of a claimed batch. @default {10} */
  concurrency?: number;
  /** How long a claim holds its rows; longer than any send can take. @default {120} */
  leaseSeconds?: number;
  /** Attempts before a row that keeps failing is failed. @default {MAX_ATTEMPTS} */
  maxAttempts?: number;
  /** No new batch is claimed after this many milliseconds of real time. @default {60000} */
  budgetMs?: number;
  /** Uniform in [0, 1), for the backoff's jitter. @default {Math.random} */
  random?: () => number;
}

/** What happened to one row; a deferred consent email counts as retried. */
type Outcome = keyof DrainCounts | "deferred";

/**
 * Handles up to `limit` due rows and returns what happened to them. After a batch in which an
 * email had to be retried (SendGrid rate-limited, failing or unreachable), no further batch is
 * claimed: the rest waits for the next drain instead of piling onto a struggling provider.
 */
export async function drainOutbox(options: DrainOptions): Promise<DrainCounts> {
  const counts: DrainCounts = { sent: 0, retried: 0, failed: 0, suppressed: 0 };
  const concurrency = options.concurrency ?? 10;
  const started = performance.now();
  let remaining = options.limit;
  while (
    remaining > 0 && performance.now() - started < (options.budgetMs ?? 60_000)
  ) {
    const batch = await claim(options, Math.min(remaining, concurrency));
    if (batch.length === 0) break;
    remaining -= batch.length;
    const outcomes = await Promise.all(
      batch.map((row) => handle(options, row)),
    );
    for (const outcome of outcomes) {
      counts[outcome === "deferred" ? "retried" : outcome]++;
    }
    if (outcomes.includes("retried")) break;
  }
  return counts;
}

/** Claims up to `size` due rows: marks them `sending` under a lease and counts the attempt. */
async function claim(
  options: DrainOptions,
  size: number,
): Promise<ClaimedRow[]> {
  const now = options.clock.now();
  const leaseUntil = new Date(
    now.getTime() + (options.leaseSeconds ?? 120) * 1000,
  );
  return await options.db.asService((tx) =>
    tx<ClaimedRow[]>`
      with due as (
        select o.id
          from public.notification_outbox o
         where o.status in ('queued', 'sending')
           and o.next_attempt_at <= ${now}
           and (o.locked_until is null or o.locked_until <= ${now})
         order by o.next_attempt_at, o.id
         limit ${size}
           for update skip locked
      ), claimed as (
        update public.notification_outbox o
           set status = 'sending', attempts = o.attempts + 1, locked_until = ${leaseUntil},
               updated_at = ${now}
          from due
         where o.id = due.id
        returning o.id, o.kind, o.attempts, o.guardian_id, o.streamer_id, o.session_id,
                  o.recording_id, o.object_id, o.next_attempt_at
      )
      select c.id, c.kind, c.attempts, c.guardian_id,
             g.email as guardian_email, g.name as guardian_name, g.role as guardian_role,
             g.status as guardian_status,
             (a.unsubscribed_at is not null) as address_unsubscribed,
             g.notify_stream_started, g.notify_stream_ended, g.notify_recording_ready,
             private.streamer_display_name(c.streamer_id) as streamer_name,
             s.id as session_id, s.title as session_title, s.started_at as session_started_at,
             s.ended_at as session_ended_at, s.duration_seconds as session_duration_seconds,
             r.id as recording_id, r.status as recording_status,
             r.duration_seconds as recording_duration_seconds,
             i.id as invitee_id, i.email as invitee_email, i.name as invitee_name,
             i.status as invitee_status
        from claimed c
        join public.guardians g on g.id = c.guardian_id
        left join public.guardian_address_choices a on a.email = g.email
        left join public.guardians i on c.kind = 'approval' and i.id = c.object_id
        left join public.stream_sessions s on s.id = c.session_id
        left join public.recordings r on r.id = c.recording_id
       order by c.next_attempt_at, c.id`
  );
}

/**
 * Why a claimed row must not be sent, or undefined when it may: nobody gets a stream email
 * before confirming, after being revoked, or for a kind they turned off; a consent request goes
 * only to a guardian still pending whose address has not unsubscribed from everything; an
 * approval request goes only to the streamer's active primary guardian, while the invitation
 * still waits; a deleted recording is not announced.
 */
export function suppressionReason(row: ClaimedRow): string | undefined {
  if (row.guardian_status === "revoked") return "the guardian was revoked";
  if (row.kind === "approval") {
    if (row.guardian_role !== "primary" || row.guardian_status !== "active") {
      return "the recipient is not the streamer's active primary guardian";
    }
    return row.invitee_status === "awaiting_approval"
      ? undefined
      : "the invitation no longer awaits approval";
  }
  if (row.kind === "consent") {
    if (row.guardian_status !== "pending") {
      return "the guardian already confirmed";
    }
    return row.address_unsubscribed ? "the address unsubscribed from every email" : undefined;
  }
  if (row.guardian_status !== "active") {
    return "the guardian has not confirmed yet";
  }
  const wanted = row.kind === "stream_started"
    ? row.notify_stream_started
    : row.kind === "stream_ended"
    ? row.notify_stream_ended
    : row.notify_recording_ready;
  if (!wanted) return "the guardian turned this kind of email off";
  if (row.kind === "recording_ready" && row.recording_status !== "ready") {
    return `the recording is ${row.recording_status ?? "gone"}`;
  }
  return undefined;
}

/** The render input of a claimed row. */
export function toNotification(row: ClaimedRow): Notification {
  const number = (value: string | null) => value === null ? null : Number(value);
  return {
    id: row.id,
    kind: row.kind,
    guardian: {
      id: row.guardian_id,
      email: row.guardian_email,
      name: row.guardian_name,
    },
    streamerName: row.streamer_name,
    session: row.session_id
      ? {
        id: row.session_id,
        title: row.session_title,
        startedAt: row.session_started_at,
        endedAt: row.session_ended_at,
        durationSeconds: number(row.session_duration_seconds),
      }
      : undefined,
    recording: row.recording_id
      ? {
        id: row.recording_id,
        durationSeconds: number(row.recording_duration_seconds),
      }
      : undefined,
    invitee: row.invitee_id
      ? {
        id: row.invitee_id,
        email: row.invitee_email!,
        name: row.invitee_name,
      }
      : undefined,
  };
}

async function handle(
  options: DrainOptions,
  row: ClaimedRow,
): Promise<Outcome> {
  const log = options.log.with({
    notificationId: row.id,
    kind: row.kind,
    attempt: row.attempts,
  });
  const suppressed = suppressionReason(row);
  if (suppressed) {
    await settle(options, row, { status: "suppressed", reason: suppressed });
    log.info("email suppressed", { reason: suppressed });
    return "suppressed";
  }
  if (row.kind === "consent") {
    const slot = await consentSlot(options, row);
    if (!slot.allowed) {
      await settle(options, row, { status: "deferred", until: slot.retry_at! });
      log.info("consent email deferred", {
        reason: "the address had 3 consent emails in 24 hours",
        retryAt: slot.retry_at!.toISOString(),
      });
      return "deferred";
    }
  }
  let email: OutgoingEmail;
  try {
    email = await options.render(toNotification(row));
  } catch (error) {
    log.error("email not rendered", describeError(error));
    await settle(options, row, {
      status: "failed",
      reason: "The email could not be rendered",
    });
    return "failed";
  }
  let messageId: string;
  try {
    ({ messageId } = await options.mailer.send(email));
  } catch (error) {
    const failure = error instanceof DeliveryError
      ? error
      : new DeliveryError(`Sending failed: ${String(error)}`, {
        permanent: false,
        cause: error,
      });
    const maxAttempts = options.maxAttempts ?? MAX_ATTEMPTS;
    if (failure.permanent || row.attempts >= maxAttempts) {
      const reason = failure.permanent
        ? failure.message
        : `Gave up after ${row.attempts} attempts; the last: ${failure.message}`;
      await settle(options, row, { status: "failed", reason });
      log.error("email failed", { reason });
      return "failed";
    }
    const delay = retryDelaySeconds(row.attempts, {
      random: options.random,
      retryAfterSeconds: failure.retryAfterSeconds,
    });
    await settle(options, row, {
      status: "queued",
      reason: failure.message,
      delaySeconds: delay,
    });
    log.warn("email will be retried", {
      reason: failure.message,
      retryInSeconds: delay,
    });
    return "retried";
  }
  // The email is out: recording that must not be lost, or the row would be sent again.
  await retrying(() => settle(options, row, { status: "sent", messageId }));
  log.info("email sent", {
    mailer: options.mailer.kind,
    providerMessageId: messageId,
  });
  return "sent";
}

/**
 * Takes one of the address's consent emails of the rolling 24 hours
 * (`private.consent_email_slot`, an owner-only function, so outside asService), or says when
 * the next one frees.
 */
async function consentSlot(
  options: DrainOptions,
  row: ClaimedRow,
): Promise<{ allowed: boolean; retry_at: Date | null }> {
  const [slot] = await options.db.sql<
    { allowed: boolean; retry_at: Date | null }[]
  >`
    select allowed, retry_at
      from private.consent_email_slot(p_outbox_id => ${row.id}, p_email => ${row.guardian_email},
                                      p_now => ${options.clock.now()})`;
  return slot;
}

type Settlement =
  | { status: "sent"; messageId: string }
  | { status: "deferred"; until: Date }
  | { status: "queued"; reason: string; delaySeconds: number }
  | { status: "failed" | "suppressed"; reason: string };

/**
 * Records a claimed row's outcome, only while the claim is still this drain's (same attempt,
 * still `sending`), and releases the lease.
 */
async function settle(
  options: DrainOptions,
  row: ClaimedRow,
  outcome: Settlement,
): Promise<void> {
  const now = options.clock.now();
  await options.db.asService(async (tx) => {
    if (outcome.status === "sent") {
      await tx`
        update public.notification_outbox
           set status = 'sent', sent_at = ${now}, provider_message_id = ${outcome.messageId},
               locked_until = null, last_error = null, updated_at = ${now}
         where id = ${row.id} and status = 'sending' and attempts = ${row.attempts}`;
    } else if (outcome.status === "deferred") {
      // Not an attempt: the email waits for its address's next slot.
      await tx`
        update public.notification_outbox
           set status = 'queued', next_attempt_at = ${outcome.until}, attempts = attempts - 1,
               locked_until = null, updated_at = ${now}
         where id = ${row.id} and status = 'sending' and attempts = ${row.attempts}`;
    } else if (outcome.status === "queued") {
      const next = new Date(now.getTime() + outcome.delaySeconds * 1000);
      await tx`
        update public.notification_outbox
           set status = 'queued', next_attempt_at = ${next}, locked_until = null,
               last_error = ${outcome.reason}, updated_at = ${now}
         where id = ${row.id} and status = 'sending' and attempts = ${row.attempts}`;
    } else {
      await tx`
        update public.notification_outbox
           set status = ${outcome.status}, locked_until = null, last_error = ${outcome.reason},
               updated_at = ${now}
         where id = ${row.id} and status = 'sending' and attempts = ${row.attempts}`;
    }
  });
}

async function retrying(
  work: () => Promise<void>,
  attempts = 3,
): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
