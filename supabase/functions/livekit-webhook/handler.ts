/**
 * `POST livekit-webhook`. The raw body is verified with LiveKit's `WebhookReceiver` before
 * anything else; then `readEvent` (events.ts) reads it and one statement,
 * `private.webhook_apply`, does the rest in one transaction: the session's row lock, the
 * ledger check, the effect its `case` chooses for the event, and the ledger's outcome. It
 * answers typed flags that this handler acts on: `emails_queued` (drain the outbox) and
 * `restart_egress` (record a reconnected streamer again, {@linkcode restartEgress}).
 * A duplicate id changes nothing. LiveKit retries only on 5xx, so transient failures are 503
 * and bad input is 4xx: a field too large for the database is `400` (payload.ts). Key material
 * an event echoes (egress storage credentials) is removed before it is stored or logged.
 */
import type postgres from "postgres";
import { readText, WEBHOOK_BODY_LIMIT } from "../../../shared/body.ts";
import type { Database } from "../../../shared/db.ts";
import { applyEgressReport } from "../../../shared/egress.ts";
import { HttpError, invalidRequest, unavailable } from "../../../shared/errors.ts";
import { createFunction, type HandlerOptions, json, toHttpError } from "../../../shared/http.ts";
import {
  type LiveKitSettings,
  type RecordingTarget,
  startStreamerEgress,
} from "../../../shared/livekit.ts";
import { describeError, type Logger } from "../../../shared/log.ts";
import type { DrainRequester } from "../../../shared/outbox_drain.ts";
import { lockSession } from "../../../shared/session_state.ts";
import { type EventInput, type EventJson, eventTime, readEvent, roomOf } from "./events.ts";
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
  /** The streamer must be recorded again; the event is not in the ledger yet. */
  restart_egress: boolean;
}

/** What `private.webhook_track_published` decides. */
interface RestartDecisionRow {
  restart_egress: boolean;
  outcome: string;
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

  /** Applies one verified event in one statement; returns what `private.webhook_apply` did. */
  async function apply(event: IdentifiedEvent): Promise<AppliedRow> {
    const started = new Date();
    const now = clock.now();
    const at = eventTime(event, now);
    const room = roomOf(event);
    const input = readEvent(event, { recording: options.recording });
    const [applied] = await db.sql<AppliedRow[]>`
      select outcome, emails_queued, restart_egress
        from private.webhook_apply(p_id => ${event.id}, p_event => ${event.event},
                                   p_room => ${room}, p_payload => ${db.sql.json(asJson(event))},
                                   p_at => ${at}, p_now => ${now},
                                   p_input => ${db.sql.json(asJson(input))})`;
    if (!applied.restart_egress) return applied;
    return await restartEgress(event, { room, input, now, started });
  }

  /**
   * Records a reconnected streamer again: in one service transaction, the session's row lock
   * and the ledger check as `private.webhook_apply` takes them, the decision again (another
   * delivery may have restarted it), LiveKit's StartParticipantEgress, the new recording as its
   * first egress report would create it, and the ledger's outcome.
   */
  async function restartEgress(
    event: IdentifiedEvent,
    context: { room: string | null; input: EventInput; now: Date; started: Date },
  ): Promise<AppliedRow> {
    const { room, input, now, started } = context;
    const recording = options.recording;
    if (!recording) {
      throw new Error("Cannot restart egress: livekit-webhook has no recording target");
    }
    return await db.asService(async (tx) => {
      const session = room === null ? undefined : await lockSession(tx, room);
      const [{ seen }] = await tx<{ seen: boolean }[]>`
        select private.webhook_seen(${event.id}) as seen`;
      if (seen) return { outcome: "duplicate", emails_queued: false, restart_egress: false };
      let outcome = "ignored: no session has this room";
      if (session) {
        const [decision] = await tx<RestartDecisionRow[]>`
          select restart_egress, outcome
            from private.webhook_track_published(${session.id}, ${tx.json(asJson(input))})`;
        outcome = decision.outcome;
        if (decision.restart_egress) {
          const egressId = await startStreamerEgress(options.livekit, {
            sessionId: session.id,
            streamerId: session.streamer_id,
            recording,
          });
          await applyEgressReport(tx, {
            session,
            report: {
              egressId,
              status: "pending",
              truncated: false,
              startedAt: null,
              endedAt: null,
              error: null,
              objectPath: null,
              sizeBytes: null,
              durationSeconds: null,
            },
            now,
          });
          outcome = "egress restarted";
        }
      }
      const [{ recorded }] = await tx<{ recorded: boolean }[]>`
        select private.webhook_record(p_id => ${event.id}, p_event => ${event.event},
                                      p_room => ${room}, p_payload => ${tx.json(asJson(event))},
                                      p_now => ${now}, p_started => ${started}) as recorded`;
      // A concurrent delivery recorded it first: undo, and LiveKit's retry is a duplicate.
      if (!recorded) throw unavailable("database", new Error("event recorded concurrently"));
      return { outcome, emails_queued: false, restart_egress: false };
    });
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
        const applied = await apply(identified);
        context.annotate({ outcome: applied.outcome });
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
