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

/** What an event did, logged with the request; "duplicate" for an id seen before. */
export type EventOutcome = string;

/** Collaborators of event modules. */
export interface EventContext {
  /**
   * Applies the event in one statement (`private.webhook_apply`): the session's row lock,
   * the ledger check, this event's effect with what the module read from it, the recount
   * after participant events and the ledger's outcome.
   */
  apply(effect: Record<string, unknown>): Promise<EventOutcome>;
  /** Records the event as processed with `outcome` and no effect. */
  ignore(outcome: string): Promise<EventOutcome>;
  /**
   * For an effect that must call LiveKit while the session is locked: locks the session,
   * checks the ledger and runs `work` in one service transaction, then records the outcome.
   */
  transaction(
    work: (tx: Tx, session: LockedSession) => Promise<EventOutcome>,
  ): Promise<EventOutcome>;
  /** When LiveKit says the event happened. */
  at: Date;
  /** When it is processed. */
  now: Date;
  livekit: LiveKitSettings;
  recording?: RecordingTarget;
}

/** One module per event name. */
export type EventHandler = (
  event: EventJson,
  context: EventContext,
) => Promise<EventOutcome>;
