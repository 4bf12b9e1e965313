/** `room_finished`: the room is gone, so the session ends (if it has not) and viewers leave. */
import type { EventHandler } from "./types.ts";

export const roomFinished: EventHandler = async (_event, { tx, session, at, now }) => {
  await tx`
    update public.session_participants set left_at = greatest(joined_at, ${at})
     where session_id = ${session.id} and left_at is null`;
  if (session.status === "ended") return "closed participants of an ended session";
  await tx`
    update public.stream_sessions
       set status = 'ended', end_reason = 'room_finished', ended_at = ${at}, updated_at = ${now}
     where id = ${session.id} and status <> 'ended'`;
  return "session ended";
};
