/**
 * `room_finished`: the room is gone, so the session ends (if it has not) and viewers leave
 * (`private.end_session_for`).
 */
import type { EventHandler } from "./types.ts";

export const roomFinished: EventHandler = async (_event, context) => await context.apply({});
