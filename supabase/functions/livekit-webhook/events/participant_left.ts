/**
 * `participant_left` and `participant_connection_aborted`: the connection's row gets its leave
 * time (the earliest reported), created if the join has not been processed yet
 * (`private.webhook_participant_left`).
 */
import { applyParticipantEvent } from "./participant.ts";
import type { EventHandler } from "./types.ts";

export const participantLeft: EventHandler = applyParticipantEvent;
