/**
 * `POST livekit-webhook`. The raw body is verified with LiveKit's `WebhookReceiver` before
 * anything else; then the event's module reads it and, in one statement (one transaction),
 * the event id is claimed in the ledger, its effects apply under the session's row lock, and
 * the ledger records the outcome (`private.webhook_apply`).
 * A duplicate id changes nothing. LiveKit retries only on 5xx, so transient failures are 503
 * and bad input is 4xx: a field too large for the database is `400` (payload.ts). Key material
 * an event echoes (egress storage credentials) is removed before it is stored or logged.
 */
import type postgres from "postgres";
import { readText, WEBHOOK_BODY_LIMIT } from "../../../shared/body.ts";
import type { Clock } from "../../../shared/clock.ts";
import type { CorsOptions } from "../../../shared/cors.ts";
import type { Database } from "../../../shared/db.ts";
import { HttpError, invalidRequest, unavailable } from "../../../shared/errors.ts";
import { createFunction, json, toHttpError } from "../../../shared/http.ts";
import type { LiveKitSettings, RecordingTarget } from "../../../shared/livekit.ts";
import { describeError, type Logger, type LogSink } from "../../../shared/log.ts";
import type { DrainRequester } from "../../../shared/outbox_drain.ts";
import { DISPATCH, type WebhookEventName } from "./dispatch.ts";
import type { EventJson } from "./events/types.ts";
import { lockSession } from "../../../shared/session_state.ts";
import { oversizedFields, withoutSecrets } from "./payload.ts";
import { createWebhookVerifier, type WebhookKeyPair } from "./signing_keys.ts";

/** Options of {@linkcode createWebhookHandler}. */
export interface WebhookOptions {
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
  cors: CorsOptions;
  clock: Clock;
  logSink?: LogSink;
}

/** Outcomes after which triggers may have queued emails (see the notification triggers). */
const QUEUES_EMAIL = /^(session live|session ended|recording (created|updated) \(ready\))$/;

function isMalformed(error: unknown): boolean {
  return error instanceof SyntaxError ||
    (error instanceof Error && error.message.startsWith("cannot decode"));
}

/** The event's room: egress events name it only in their egress info. */
function roomOf(event: EventJson): string | null {
  return event.room?.name ?? event.egressInfo?.roomName ?? null;
}

function eventTime(event: EventJson, fallback: Date): Date {
  const seconds = Number(event.createdAt ?? 0);
  return seconds > 0 ? new Date(seconds * 1000) : fallback;
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

  /** Applies one verified event; returns its outcome, or "duplicate". */
  async function apply(event: EventJson & { id: string; event: string }): Promise<string> {
    const started = new Date();
    const now = clock.now();
    const at = eventTime(event, now);
    const roomName = roomOf(event);
    const payload = event as unknown as postgres.JSONValue;
    const statement = async (effect: Record<string, unknown>) => {
      const [{ outcome }] = await db.sql<{ outcome: string }[]>`
        select private.webhook_apply(${event.id}, ${event.event}, ${roomName},
                                     ${db.sql.json(payload)}, ${at}, ${now},
                                     ${db.sql.json(effect as postgres.JSONValue)}) as outcome`;
      return outcome;
    };
    const ignore = (outcome: string) => statement({ ignored: outcome });
    const module = DISPATCH[event.event as WebhookEventName];
    if (!module) return await ignore(`ignored: ${event.event} changes nothing here`);
    return await module(event, {
      apply: statement,
      ignore,
      transaction: (work) =>
        db.asService(async (tx) => {
          // The ledger as private.webhook_apply keeps it: lock, check, effects, record.
          const session = roomName === null ? undefined : await lockSession(tx, roomName);
          const [{ seen }] = await tx<{ seen: boolean }[]>`
            select private.webhook_seen(${event.id}) as seen`;
          if (seen) return "duplicate";
          const outcome = session ? await work(tx, session) : "ignored: no session has this room";
          const [{ recorded }] = await tx<{ recorded: boolean }[]>`
            select private.webhook_record(${event.id}, ${event.event}, ${roomName},
                                          ${tx.json(payload)}, ${now}, ${started}) as recorded`;
          // A concurrent delivery recorded it first: undo, and LiveKit's retry is a duplicate.
          if (!recorded) throw unavailable("database", new Error("event recorded concurrently"));
          return outcome;
        }),
      at,
      now,
      livekit: options.livekit,
      recording: options.recording,
    });
  }

  /** Notes a failed event outside the rolled-back transaction, so a retry re-applies it. */
  async function recordFailure(
    event: EventJson & { id: string; event: string },
    error: unknown,
  ) {
    const message = error instanceof Error ? error.message.slice(0, 500) : String(error);
    await db.asService((tx) =>
      tx`
        insert into public.webhook_events (id, event, room_name, outcome, received_at, payload, error)
        values (${event.id}, ${event.event}, ${roomOf(event)}, 'failed', ${clock.now()},
                ${tx.json(event as unknown as postgres.JSONValue)}, ${message})
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
      const identified = event as EventJson & { id: string; event: string };
      context.annotate({ event: event.event, eventId: event.id });
      try {
        const outcome = await apply(identified);
        context.annotate({ outcome });
        if (QUEUES_EMAIL.test(outcome)) options.drain?.request(context.log);
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
