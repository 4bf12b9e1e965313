/**
 * `participant_joined`: the streamer makes a starting session live (the earliest join is its
 * start); a viewer opens a participant row. Egress and recorder participants are ignored.
 */
import { parseIdentity } from "../../../../shared/livekit.ts";
import type { EventHandler } from "./types.ts";

export const participantJoined: EventHandler = async (
  event,
  { tx, session, at, now },
) => {
  const participant = event.participant;
  if (!participant?.sid || !participant.identity) {
    return "ignored: no participant";
  }
  const who = parseIdentity(participant.identity);
  if (who.kind === "streamer") {
    if (who.userId !== session.streamer_id) {
      return "ignored: another streamer's identity";
    }
    await recordParticipant(
      tx,
      session.id,
      participant.sid,
      participant.identity,
      "streamer",
      at,
    );
    await tx`
      update public.stream_sessions
         set started_at = least(coalesce(started_at, ${at}), ${at}),
             status = case when status = 'starting' then 'live' else status end,
             updated_at = ${now}
       where id = ${session.id}`;
    return session.status === "starting" ? "session live" : "streamer joined again";
  }
  if (who.kind === "other") return "ignored: not a viewer";
  await recordParticipant(
    tx,
    session.id,
    participant.sid,
    participant.identity,
    "viewer",
    at,
    who,
  );
  return "viewer joined";
};

/**
 * Opens (or completes) the row of a connection. A `participant_left` processed first created
 * it with its leave time; the join moves `joined_at` back. A join to an ended session is
 * closed at the end, unless its own leave says otherwise.
 */
export async function recordParticipant(
  tx: Parameters<EventHandler>[1]["tx"],
  sessionId: string,
  sid: string,
  identity: string,
  kind: "streamer" | "viewer",
  at: Date,
  who?: { kind: "guardian"; guardianId: string } | {
    kind: "user";
    userId: string;
  },
): Promise<void> {
  const guardianId = who?.kind === "guardian" ? who.guardianId : null;
  await tx`
    insert into public.session_participants
      (session_id, participant_sid, identity, kind, guardian_id, joined_at, left_at)
    select ${sessionId}, ${sid}, ${identity}, ${kind},
           (select id from public.guardians where id = ${guardianId}::uuid),
           ${at}, case when s.status = 'ended' then greatest(s.ended_at, ${at}) end
      from public.stream_sessions s where s.id = ${sessionId}
    on conflict (session_id, participant_sid) do update
       set joined_at = least(session_participants.joined_at, excluded.joined_at)`;
}
