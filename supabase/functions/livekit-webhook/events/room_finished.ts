/** `room_finished`: the room is gone, so the session ends (if it has not) and viewers leave. */
import { endSession } from "../../../../shared/session_state.ts";
import type { EventHandler } from "./types.ts";

export const roomFinished: EventHandler = async (
  _event,
  { tx, session, at, now },
) => {
  const ended = await endSession(tx, session.id, "room_finished", at, now);
  return ended ? "session ended" : "closed participants of an ended session";
};
