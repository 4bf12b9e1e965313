/** What every event module receives and returns. */
import type { Tx } from "../../../../shared/db.ts";
import type { LiveKitSettings, RecordingTarget } from "../../../../shared/livekit.ts";
import type { LockedSession } from "../../../../shared/session_state.ts";

/** A webhook event as protobuf JSON (`WebhookEvent.toJson()`). */
export interface EventJson {
  id?: string;
  event?: string;
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
  egressInfo?: Record<string, unknown> & { roomName?: string };
}

/** Collaborators of event modules. */
export interface EventContext {
  tx: Tx;
  session: LockedSession;
  /** When LiveKit says the event happened. */
  at: Date;
  /** When it is processed. */
  now: Date;
  livekit: LiveKitSettings;
  recording?: RecordingTarget;
}

/** What an event did, logged with the request. */
export type EventOutcome = string;

/** One module per event name. */
export type EventHandler = (
  event: EventJson,
  context: EventContext,
) => Promise<EventOutcome>;
