/**
 * `participant_joined`: the streamer makes a starting session live (the earliest join is its
 * start); a viewer opens a participant row (`private.webhook_participant_joined`). Egress and
 * recorder participants are ignored.
 */
import { parseIdentity } from "../../../../shared/livekit.ts";
import type { EventHandler } from "./types.ts";

export const participantJoined: EventHandler = async (event, context) => {
  const participant = event.participant;
  if (!participant?.sid || !participant.identity) {
    return await context.ignore("ignored: no participant");
  }
  const who = parseIdentity(participant.identity);
  if (who.kind === "other") return await context.ignore("ignored: not a viewer");
  return await context.apply({ sid: participant.sid, identity: participant.identity, ...who });
};
