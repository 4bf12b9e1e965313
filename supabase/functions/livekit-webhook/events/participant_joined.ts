/**
 * `participant_joined`: the streamer makes a starting session live (the earliest join is its
 * start); a viewer opens a participant row (`private.webhook_participant_joined`). Egress and
 * recorder participants are ignored.
 */
import { applyParticipantEvent } from "./participant.ts";
import type { EventHandler } from "./types.ts";

export const participantJoined: EventHandler = applyParticipantEvent;
