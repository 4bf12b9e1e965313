/**
 * `participant_left` and `participant_connection_aborted`: the connection's row gets its leave
 * time (the earliest reported), created if the join has not been processed yet.
 */
import { parseIdentity } from "../../../../shared/livekit.ts";
import type { EventHandler } from "./types.ts";

export const participantLeft: EventHandler = async (
  event,
  { tx, session, at },
) => {
  const participant = event.participant;
  if (!participant?.sid || !participant.identity) {
    return "ignored: no participant";
  }
  const who = parseIdentity(participant.identity);
  if (who.kind === "other") return "ignored: not a viewer";
  if (who.kind === "streamer" && who.userId !== session.streamer_id) {
    return "ignored: another streamer's identity";
  }
  const guardianId = who.kind === "guardian" ? who.guardianId : null;
  await tx`
    insert into public.session_participants
      (session_id, participant_sid, identity, kind, guardian_id, joined_at, left_at)
    values (${session.id}, ${participant.sid}, ${participant.identity},
            ${who.kind === "streamer" ? "streamer" : "viewer"},
            (select id from public.guardians where id = ${guardianId}::uuid),
            ${at}, ${at})
    on conflict (session_id, participant_sid) do update
       set left_at = greatest(session_participants.joined_at,
                              least(coalesce(session_participants.left_at, excluded.left_at),
                                    excluded.left_at))`;
  return who.kind === "streamer" ? "streamer left" : "viewer left";
};
