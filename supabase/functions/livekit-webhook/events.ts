/**
 * What livekit-webhook reads of a verified event, as pure functions. `readEvent` turns the
 * event into {@linkcode EventInput}, the `p_input` of `private.webhook_apply`, whose `case` is
 * the one place that chooses what each event does (the migration
 * `20261206070000_webhook_one_dispatch.sql` documents the same shape). Nothing here depends on
 * the event's name: it reads what the event carries, and SQL decides.
 */
import {
  type EgressJson,
  type EgressReportJson,
  readEgress,
  reportJson,
} from "../../../shared/egress.ts";
import { parseIdentity, type RecordingTarget } from "../../../shared/livekit.ts";

/** LiveKit's webhook event names (WebhookEventNames in livekit-server-sdk). */
export type WebhookEventName =
  | "room_started"
  | "room_finished"
  | "participant_joined"
  | "participant_left"
  | "participant_connection_aborted"
  | "track_published"
  | "track_unpublished"
  | "egress_started"
  | "egress_updated"
  | "egress_ended"
  | "ingress_started"
  | "ingress_ended";

/** A webhook event as protobuf JSON (`WebhookEvent.toJson()`): defaults omitted. */
export interface EventJson {
  id?: string;
  event?: WebhookEventName | string;
  /** Seconds since the epoch, as a string (int64). */
  createdAt?: string;
  room?: { name?: string; sid?: string };
  participant?: {
    sid?: string;
    identity?: string;
    name?: string;
    kind?: string;
    joinedAt?: string;
  };
  track?: { sid?: string; source?: string; type?: string };
  egressInfo?: EgressJson & Record<string, unknown>;
}

/**
 * A connection of the streamer or of a viewer (a guardian, or a signed-in user), as
 * `private.upsert_participant` reads it. Egress and recorder participants are never one.
 */
export type ParticipantInput =
  & { sid: string; identity: string }
  & (
    | { kind: "streamer"; userId: string }
    | { kind: "guardian"; guardianId: string }
    | { kind: "user"; userId: string }
  );

/** What `private.webhook_apply` reads of an event (its `p_input`). */
export interface EventInput {
  /** The connection the event is about, when it is the streamer's or a viewer's. */
  participant: ParticipantInput | null;
  /** The event's egress report (egress events carry one). */
  egress: EgressReportJson | null;
  /** Whether livekit-webhook has a recording target; without one no egress is restarted. */
  recordingConfigured: boolean;
}

/** Options of {@linkcode readEvent}. */
export interface ReadEventOptions {
  /** Where egress records; its bucket names object paths in egress reports. */
  recording?: RecordingTarget;
}

/** The connection an event names, when it is the streamer's or a viewer's. */
export function readParticipant(participant: EventJson["participant"]): ParticipantInput | null {
  if (!participant?.sid || !participant.identity) return null;
  const who = parseIdentity(participant.identity);
  if (who.kind === "other") return null;
  return { sid: participant.sid, identity: participant.identity, ...who };
}

/** Reads an event into the input of `private.webhook_apply`. */
export function readEvent(event: EventJson, options: ReadEventOptions = {}): EventInput {
  return {
    participant: readParticipant(event.participant),
    egress: event.egressInfo
      ? reportJson(readEgress(event.egressInfo, { bucket: options.recording?.bucket }))
      : null,
    recordingConfigured: options.recording !== undefined,
  };
}

/** The event's room: egress events name it only in their egress info. */
export function roomOf(event: EventJson): string | null {
  return event.room?.name ?? event.egressInfo?.roomName ?? null;
}

/** When LiveKit says the event happened, or `fallback` when it does not say. */
export function eventTime(event: EventJson, fallback: Date): Date {
  const seconds = Number(event.createdAt ?? 0);
  return seconds > 0 ? new Date(seconds * 1000) : fallback;
}
