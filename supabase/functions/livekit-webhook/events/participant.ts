/**
 * What the participant events pass to their SQL effect: the connection and who it is by its
 * identity (see shared/livekit.ts). Connections without one, and egress or recorder
 * participants, change nothing.
 */
import { parseIdentity } from "../../../../shared/livekit.ts";
import type { EventHandler } from "./types.ts";

export const applyParticipantEvent: EventHandler = async (event, context) => {
  const participant = event.participant;
  if (!participant?.sid || !participant.identity) {
    return await context.ignore("ignored: no participant");
  }
  const who = parseIdentity(participant.identity);
  if (who.kind === "other") return await context.ignore("ignored: not a viewer");
  return await context.apply({ sid: participant.sid, identity: participant.identity, ...who });
};
