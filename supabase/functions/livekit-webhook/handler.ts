/**
 * `POST livekit-webhook`. The raw body is verified with LiveKit's `WebhookReceiver` before
 * anything else; then `readEvent` (events.ts) reads it and one statement,
 * `private.webhook_apply`, does the rest in one transaction: the session's row lock, the
 * ledger check, the effect its `case` chooses for the event, and the ledger's outcome. It
 * answers typed flags that this handler acts on: `emails_queued` (drain the outbox) and
 * `restart_egress` (the event claimed the session's egress restart: record again a streamer
 * connection whose egress ended while it stayed, {@linkcode restartEgress}, with no transaction
 * open across LiveKit's call; a new connection, a rejoin included, is recorded by the room's auto
 * egress, never restarted here).
 * A duplicate id changes nothing. LiveKit retries only on 5xx, so transient failures are 503
 * and bad input is 4xx: a field too large for the database is `400` (payload.ts). Key material
 * an event echoes (egress storage credentials) is removed before it is stored or logged.
 */
import type postgres from "postgres";
import { readText, WEBHOOK_BODY_LIMIT } from "../../../shared/kernel/body.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import { HttpError, invalidRequest } from "../../../shared/kernel/errors.ts";
import {
  createFunction,
  type HandlerOptions,
  json,
  toHttpError,
} from "../../../shared/kernel/http.ts";
import {
  type LiveKitSettings,
  type RecordingTarget,
  removeParticipant,
  startStreamerEgress,
} from "../../../shared/livekit.ts";
import { describeError, type Logger } from "../../../shared/kernel/log.ts";
import type { DrainRequester } from "../../../shared/outbox_drain.ts";
import { type EventJson, eventTime, readEvent, readParticipant, roomOf } from "./events.ts";
import { oversizedFields, withoutSecrets } from "./payload.ts";
import { createWebhookVerifier, type WebhookKeyPair } from "./signing_keys.ts";

/** Options of {@linkcode createWebhookHandler}. */
export interface WebhookOptions extends HandlerOptions {
  db: Database;
  livekit: LiveKitSettings;
  /**
   * During a rotation, the key pair LiveKit may still sign webhooks with; it verifies only
   * (signing_keys.ts).
   */
  previousWebhookKey?: WebhookKeyPair;
  /** Where a restarted egress records; without it, no egress is restarted. */
  recording?: RecordingTarget;
  /** Sends the emails an event queued (a session live or ended, a recording ready). */
  drain?: DrainRequester;
}

/** A verified event with what every event must have. */
type IdentifiedEvent = EventJson & { id: string; event: string };

/** What `private.webhook_apply` answers (its `returns table`). */
interface AppliedRow {
  /** What the event did, for the logs only. */
  outcome: string;
  /** The event queued emails: the outbox should be drained. */
  emails_queued: boolean;
  /**
   * The event claimed the session's egress restart: the streamer must be recorded again, and
   * the event is not in the ledger yet ({@linkcode restartEgress}).
   */
  restart_egress: boolean;
  /** The event's session, null for a room no session has. */
  session_id: string | null;
  /** That session's streamer. */
  streamer_id: string | null;
}

/** A value as postgres.js sends JSON (the ledger's payload, `p_input`). */
function asJson(value: unknown): postgres.JSONValue {
  return value as postgres.JSONValue;
}

function isMalformed(error: unknown): boolean {
  return error instanceof SyntaxError ||
    (error instanceof Error && error.message.startsWith("cannot decode"));
}

/** Builds the `livekit-webhook` function. */
export function createWebhookHandler(options: WebhookOptions) {
  const { db, clock } = options;
  const receiver = createWebhookVerifier(options.livekit, options.previousWebhookKey);

  async function verify(
    body: string,
    authorization: string | null,
    log: Logger,
  ): Promise<EventJson> {
    try {
      const { event, keyUsed } = await receiver.receive(body, authorization ?? undefined);
      if (keyUsed === "previous") {
        // The setting's name, never its value: LiveKit still signs with the old pair.
        log.warn("webhook verified with the previous LiveKit key pair", {
          keyPair: "LIVEKIT_WEBHOOK_PREVIOUS_API_KEY",
        });
      }
      return event.toJson() as EventJson;
    } catch (error) {
      if (isMalformed(error)) {
        // Signed by LiveKit yet unreadable: a protocol change, worth a look.
        log.warn("signed body is not a LiveKit event", describeError(error));
        throw new HttpError(
          400,
          "invalid_json",
          "The webhook body is not a LiveKit event.",
          {
            cause: error,
          },
        );
      }
      throw new HttpError(
        401,
        "invalid_signature",
        "The webhook signature is not valid.",
      );
    }
  }

  /**
   * Applies one verified event in one statement, `private.webhook_apply`; when the event claimed
   * the session's egress restart, {@linkcode restartEgress} completes it.
   */
  async function apply(event: IdentifiedEvent, log: Logger): Promise<AppliedRow> {
    const started = new Date();
    const now = clock.now();
    const at = eventTime(event, now);
    const room = roomOf(event);
    const input = readEvent(event, { recording: options.recording });
    const [applied] = await db.sql<AppliedRow[]>`
      select outcome, emails_queued, restart_egress, session_id, streamer_id
        from private.webhook_apply(p_id => ${event.id}, p_event => ${event.event},
                                   p_room => ${room}, p_payload => ${db.sql.json(asJson(event))},
                                   p_at => ${at}, p_now => ${now},
                                   p_input => ${db.sql.json(asJson(input))})`;
    if (!applied.restart_egress) return applied;
    return await restartEgress(event, { applied, room, now, started, log });
  }

  /**
   * Records a streamer connection again whose egress ended while it stayed, with no transaction
   * open while LiveKit answers: `private.webhook_apply` has committed this event's claim on the
   * session's restart (so the video and audio `track_published` of one republish start one
   * egress); LiveKit's
   * StartParticipantEgress runs outside any transaction; then one statement,
   * `private.webhook_egress_restarted`, records the egress, drops the claim and records the
   * event. When LiveKit fails or refuses, the claim is released and the error answered (503 or
   * 500), so LiveKit's retry claims again. A process that dies between the steps leaves a claim
   * that expires (the migration `20261206100000_egress_restart_claim.sql` says how that heals;
   * `20261206110000_auto_egress_per_connection.sql` says when a restart is due).
   */
  async function restartEgress(
    event: IdentifiedEvent,
    context: { applied: AppliedRow; room: string | null; now: Date; started: Date; log: Logger },
  ): Promise<AppliedRow> {
    const { applied, room, now, started, log } = context;
    const sessionId = applied.session_id;
    const streamerId = applied.streamer_id;
    let egressId: string;
    try {
      if (!options.recording || sessionId === null || streamerId === null) {
        throw new Error("Cannot restart egress: no recording target or no session");
      }
      egressId = await startStreamerEgress(options.livekit, {
        sessionId,
        streamerId,
        recording: options.recording,
      });
    } catch (error) {
      if (sessionId !== null) {
        // Released, LiveKit's retry (this answer is a 5xx) claims again; if not, it expires.
        await db.sql`select private.webhook_release_egress_claim(${sessionId}, ${event.id})`
          .catch((cause) => log.error("egress restart claim not released", describeError(cause)));
      }
      throw error;
    }
    const [{ outcome }] = await db.sql<{ outcome: string }[]>`
      select private.webhook_egress_restarted(
               p_id => ${event.id}, p_event => ${event.event}, p_room => ${room},
               p_payload => ${db.sql.json(asJson(event))}, p_now => ${now},
               p_started => ${started}, p_egress_id => ${egressId}) as outcome`;
    return { ...applied, outcome, restart_egress: false };
  }

  /**
   * Removes a guardian's connection that joined while its guardian is not active for the room's
   * streamer: revoked after its grant was issued (LiveKit checks a grant only at join, and a
   * viewer grant lives up to 5 minutes), as revoking removes the connections already there
   * (`removeFromLiveRooms` in guardians/handler.ts). Runs for a duplicate delivery too, so
   * LiveKit's retry after a failed removal (503) removes again. Returns the removed guardian.
   */
  async function removeInactiveGuardian(event: IdentifiedEvent, applied: AppliedRow) {
    if (event.event !== "participant_joined" || applied.streamer_id === null) return;
    const participant = readParticipant(event.participant);
    const room = roomOf(event);
    if (participant?.kind !== "guardian" || room === null) return;
    const streamerId = applied.streamer_id;
    const [active] = await db.asService((tx) =>
      tx<{ id: string }[]>`
        select g.id from public.guardians g
         where g.id = ${participant.guardianId} and g.streamer_id = ${streamerId}
           and g.status = 'active'`
    );
    if (active) return;
    await removeParticipant(options.livekit, { roomName: room, identity: participant.identity });
    return participant.guardianId;
  }

  /** Notes a failed event outside the rolled-back transaction, so a retry re-applies it. */
  async function recordFailure(event: IdentifiedEvent, error: unknown) {
    const message = error instanceof Error ? error.message.slice(0, 500) : String(error);
    await db.asService((tx) =>
      tx`
        insert into public.webhook_events (id, event, room_name, outcome, received_at, payload, error)
        values (${event.id}, ${event.event}, ${roomOf(event)}, 'failed', ${clock.now()},
                ${tx.json(asJson(event))}, ${message})
        on conflict (id) do update set outcome = 'failed', error = excluded.error
         where webhook_events.outcome <> 'processed'`
    );
  }

  return createFunction({
    name: "livekit-webhook",
    cors: options.cors,
    logSink: options.logSink,
  }, {
    async POST(request, context) {
      const body = await readText(request, WEBHOOK_BODY_LIMIT);
      const event = withoutSecrets(
        await verify(body, request.headers.get("authorization"), context.log),
      );
      const oversized = oversizedFields(event);
      if (oversized.length > 0) {
        context.log.warn("signed event with oversized fields", {
          event: event.event?.slice(0, 64),
          fields: oversized.slice(0, 5).map((issue) => issue.path),
        });
        throw invalidRequest(oversized, "The event has fields too large to keep.");
      }
      if (!event.id || !event.event) {
        context.log.warn("signed event without id or name", {
          event: event.event,
        });
        throw new HttpError(
          400,
          "invalid_request",
          "The event has no id or no name.",
        );
      }
      const identified = event as IdentifiedEvent;
      context.annotate({ event: event.event, eventId: event.id });
      try {
        const applied = await apply(identified, context.log);
        context.annotate({ outcome: applied.outcome });
        const removed = await removeInactiveGuardian(identified, applied);
        if (removed) context.annotate({ removedGuardianId: removed });
        if (applied.emails_queued) options.drain?.request(context.log);
        return json({ ok: true });
      } catch (error) {
        const failure = toHttpError(error);
        if (failure.status === 500) {
          await recordFailure(identified, error).catch((cause) =>
            context.log.error(
              "could not record the failed event",
              describeError(cause),
            )
          );
        }
        throw error;
      }
    },
  });
}
