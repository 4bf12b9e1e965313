/**
 * `participant_left` and `participant_connection_aborted`: the connection's row gets its leave
 * time (the earliest reported), created if the join has not been processed yet
 * (`private.webhook_participant_left`).
 */
import { parseIdentity } from "../../../../shared/livekit.ts";
import type { EventHandler } from "./types.ts";

export const participantLeft: EventHandler = async (event, context) => {
  const participant = event.participant;
  if (!participant?.sid || !participant.identity) {
    return await context.ignore("ignored: no participant");
  }
  const who = parseIdentity(participant.identity);
  if (who.kind === "other") return await context.ignore("ignored: not a viewer");
  return await context.apply({ sid: participant.sid, identity: participant.identity, ...who });
};
