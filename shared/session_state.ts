/** A session as webhook events and reconciliation see it: locked, then changed. */
import type { Tx } from "./kernel/db.ts";

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

/** Options of {@linkcode endSession}. */
export interface EndSessionOptions {
  sessionId: string;
  reason: "room_finished" | "abandoned" | "failed";
  /** When it ended: its `endedAt`, and the leave time of connections still open. */
  at: Date;
  /** When it is processed. */
  now: Date;
}

/**
 * Ends a session that has not ended (`room_finished`, `abandoned`...), closing the connections
 * still open, and recomputes its viewer figures and duration (`private.end_session_for`, which
 * `private.webhook_apply` calls for `room_finished`). Returns whether it ended it now.
 */
export async function endSession(tx: Tx, options: EndSessionOptions): Promise<boolean> {
  const [{ ended }] = await tx<{ ended: boolean }[]>`
    select private.end_session_for(p_session_id => ${options.sessionId},
                                   p_reason => ${options.reason},
                                   p_at => ${options.at}, p_now => ${options.now}) as ended`;
  return ended;
}
