/** A session as webhook events see it: locked, then its derived figures recomputed. */
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
 * Recomputes what is derived from participant rows and times: current, peak and total
 * viewers, and the duration. Peak is the most viewer connections overlapping at any instant,
 * computed from the intervals, so it does not depend on the order events arrived in.
 */
export async function refreshDerived(tx: Tx, sessionId: string, now: Date): Promise<void> {
  await tx`
    with viewers as (
      select joined_at, left_at from public.session_participants
       where session_id = ${sessionId} and kind = 'viewer'
    ), edges as (
      select joined_at as at, 1 as delta from viewers
      union all
      select left_at, -1 from viewers where left_at is not null
    ), running as (
      select sum(delta) over (order by at, delta rows unbounded preceding) as open from edges
    )
    update public.stream_sessions s
       set viewers_current = (select count(*) from viewers where left_at is null),
           viewers_peak = greatest((select coalesce(max(open), 0) from running),
                                   (select count(*) from viewers where left_at is null)),
           viewers_total = (select count(*) from viewers),
           duration_seconds = case when s.started_at is null or s.ended_at is null then null
             else greatest(0, extract(epoch from (s.ended_at - s.started_at))) end,
           updated_at = ${now}
     where s.id = ${sessionId}`;
}

/**
 * Ends a session that has not ended (`room_finished`, `abandoned`...) at `at`, closing the
 * connections still open, and recomputes its figures. Returns whether it ended it now.
 */
export async function endSession(
  tx: Tx,
  sessionId: string,
  reason: "room_finished" | "abandoned" | "failed",
  at: Date,
  now: Date,
): Promise<boolean> {
  await tx`
    update public.session_participants set left_at = greatest(joined_at, ${at})
     where session_id = ${sessionId} and left_at is null`;
  const ended = await tx`
    update public.stream_sessions
       set status = 'ended', end_reason = ${reason}, ended_at = ${at}, updated_at = ${now}
     where id = ${sessionId} and status <> 'ended'`;
  await refreshDerived(tx, sessionId, now);
  return ended.count > 0;
}
