/** A session as webhook events and reconciliation see it: locked, then changed. */
import type { Tx } from "./db.ts";

/** The locked session row an event applies to. */
export interface LockedSession {
  id: string;
  streamer_id: string;
  status: "starting" | "live" | "ended";
  record: boolean;
  room_name: string;
  started_at: Date | null;
  ended_at: Date | null;
}

/**
 * Locks the session of `roomName` for the rest of the transaction, so that events of one
 * session apply one at a time whatever their concurrency. Undefined for unknown rooms.
 */
export async function lockSession(tx: Tx, roomName: string): Promise<LockedSession | undefined> {
  const [session] = await tx<LockedSession[]>`
    select id, streamer_id, status, record, room_name, started_at, ended_at
      from public.stream_sessions where room_name = ${roomName} for update`;
  return session;
}

/**
 * Ends a session that has not ended (`room_finished`, `abandoned`...) at `at`, closing the
 * connections still open, and recomputes its viewer figures and duration
 * (`private.end_session_for`, which the webhook uses too). Returns whether it ended it now.
 */
export async function endSession(
  tx: Tx,
  sessionId: string,
  reason: "room_finished" | "abandoned" | "failed",
  at: Date,
  now: Date,
): Promise<boolean> {
  const [{ ended }] = await tx<{ ended: boolean }[]>`
    select private.end_session_for(${sessionId}, ${reason}, ${at}, ${now}) as ended`;
  return ended;
}
