/**
 * The sweeps `reconcile` runs, in the order `createReconcileHandler` (handler.ts) lists them.
 * Each heals one kind of state that lost webhooks or LiveKit's own failures left behind, as
 * service_role. A session is healed in its own transaction under its row lock, the same lock
 * the webhook takes (`lockSession` in shared/session_state.ts), so the two never fight.
 */
import type { Database } from "../../../shared/kernel/db.ts";
import { applyEgressReport, type EgressJson, readEgress } from "../../../shared/egress.ts";
import {
  deleteSessionRoom,
  listRoomEgress,
  type LiveKitSettings,
} from "../../../shared/livekit.ts";
import { describeError, type Logger } from "../../../shared/kernel/log.ts";
import { endSession, lockSession } from "../../../shared/session_state.ts";

/** A session never live after this long is abandoned (API.md). */
export const ABANDON_AFTER_SECONDS = 10 * 60;
/** Rooms and egress younger than this may not show in LiveKit's lists yet. */
const SETTLE_SECONDS = 60;
/** LiveKit retries a webhook for minutes, so a month of event ids is ample to spot duplicates. */
const WEBHOOK_LEDGER_DAYS = 30;
/** A recording not updated by webhooks for this long is refreshed from ListEgress. */
const STUCK_AFTER_SECONDS = 5 * 60;

/** What every sweep works with: one run's collaborators and its `now`. */
export interface SweepContext {
  db: Database;
  livekit: LiveKitSettings;
  /** The recordings bucket, as egress reports name it. */
  bucket?: string;
  /** The run's time; every cutoff is measured from it. */
  now: Date;
  /** The request's logger, told what a sweep leaves for the next run. */
  log: Logger;
}

/** Sessions ended by {@linkcode endRoomlessSessions}, by the reason they got. */
export interface RoomlessResult {
  /** Live sessions whose room is gone: `room_finished`. */
  ended: number;
  /** Sessions still starting whose room is gone: `abandoned`. */
  abandoned: number;
}

interface Candidate {
  id: string;
  room_name: string;
  status: "starting" | "live" | "ended";
  created_at: Date;
}

function secondsBefore(now: Date, seconds: number): Date {
  return new Date(now.getTime() - seconds * 1000);
}

/** Ends as `abandoned` the sessions still starting {@linkcode ABANDON_AFTER_SECONDS} after creation. */
export async function abandonStaleSessions(
  sweep: SweepContext,
): Promise<number> {
  const { db, now } = sweep;
  const stale = await db.asService((tx) =>
    tx<{ id: string; room_name: string }[]>`
      select id, room_name from public.stream_sessions
       where status = 'starting' and created_at < ${secondsBefore(now, ABANDON_AFTER_SECONDS)}`
  );
  let abandoned = 0;
  for (const { room_name } of stale) {
    const ended = await db.asService(async (tx) => {
      const session = await lockSession(tx, room_name);
      if (!session || session.status !== "starting") return false;
      return await endSession(tx, { sessionId: session.id, reason: "abandoned", at: now, now });
    });
    if (ended) abandoned++;
  }
  return abandoned;
}

/**
 * Ends the starting and live sessions (older than the settle time) whose room is not among
 * `rooms`, LiveKit's room list: a live one as `room_finished`, a starting one as `abandoned`.
 */
export async function endRoomlessSessions(
  sweep: SweepContext,
  rooms: Set<string>,
): Promise<RoomlessResult> {
  const { db, now } = sweep;
  const active = await db.asService((tx) =>
    tx<Candidate[]>`
      select id, room_name, status, created_at from public.stream_sessions
       where status in ('starting', 'live') and created_at < ${secondsBefore(now, SETTLE_SECONDS)}`
  );
  const result: RoomlessResult = { ended: 0, abandoned: 0 };
  for (
    const candidate of active.filter((session) => !rooms.has(session.room_name))
  ) {
    const reason = await db.asService(async (tx) => {
      const session = await lockSession(tx, candidate.room_name);
      if (!session || session.status === "ended") return undefined;
      const why = session.status === "live" ? "room_finished" : "abandoned";
      await endSession(tx, { sessionId: session.id, reason: why, at: now, now });
      return why;
    });
    if (reason === "room_finished") result.ended++;
    if (reason === "abandoned") result.abandoned++;
  }
  return result;
}

/**
 * Refreshes recordings stuck in pending, recording or processing from LiveKit's egress list;
 * those of an ended session that LiveKit no longer knows fail. Rooms with an expired egress
 * restart claim (livekit-webhook's process died between claiming and recording a restart,
 * private.egress_restart_claims) are refreshed too, so an egress that started is recorded, and
 * the claim is dropped. Returns how many recordings changed.
 */
export async function refreshStuckRecordings(
  sweep: SweepContext,
): Promise<number> {
  const { db, now } = sweep;
  const stuck = await db.asService((tx) =>
    tx<{ room_name: string }[]>`
      select s.room_name from public.recordings r
        join public.stream_sessions s on s.id = r.session_id
       where r.source = 'egress' and r.status in ('pending', 'recording', 'processing')
         and r.updated_at < ${secondsBefore(now, STUCK_AFTER_SECONDS)}
      union
      select s.room_name from private.egress_restart_claims c
        join public.stream_sessions s on s.id = c.session_id
       where c.expires_at <= ${now}`
  );
  let updated = 0;
  for (const { room_name } of stuck) {
    const egresses = await listRoomEgress(sweep.livekit, room_name);
    updated += await db.asService(async (tx) => {
      const session = await lockSession(tx, room_name);
      if (!session) return 0;
      let changed = 0;
      for (const info of egresses) {
        const report = readEgress(info as EgressJson, { bucket: sweep.bucket });
        if (
          (await applyEgressReport(tx, { session, report, now })) !== "unchanged"
        ) changed++;
      }
      // An egress LiveKit no longer knows, of a session that has ended, will never report.
      const known = egresses.map((info) => String(info.egressId ?? ""));
      const lost = await tx`
        update public.recordings
           set status = 'failed', error = 'LiveKit has no record of this egress', updated_at = ${now}
         where session_id = ${session.id} and source = 'egress'
           and status in ('pending', 'recording', 'processing')
           and updated_at < ${secondsBefore(now, STUCK_AFTER_SECONDS)}
           and ${session.status === "ended"}
           and (egress_id is null or egress_id <> all(${known}))`;
      await tx`
        delete from private.egress_restart_claims
         where session_id = ${session.id} and expires_at <= ${now}`;
      return changed + lost.count;
    });
  }
  return updated;
}

/**
 * Deletes the rooms among `rooms` (LiveKit's room list) whose session has ended; a room that
 * cannot be deleted now is logged and left for the next run.
 */
export async function deleteEndedRooms(
  sweep: SweepContext,
  rooms: Set<string>,
): Promise<void> {
  if (rooms.size === 0) return;
  const ended = await sweep.db.asService((tx) =>
    tx<{ id: string }[]>`
      select id from public.stream_sessions
       where status = 'ended' and room_name = any(${[...rooms]})`
  );
  for (const { id } of ended) {
    try {
      await deleteSessionRoom(sweep.livekit, id);
    } catch (error) {
      sweep.log.warn(
        "room not deleted; the next run retries",
        describeError(error),
      );
    }
  }
}

/** Keeps the bookkeeping tables small: expired idempotency keys, spent rate-limit windows. */
export async function purgeExpired(sweep: SweepContext): Promise<void> {
  const { now } = sweep;
  await sweep.db.asService((tx) =>
    Promise.all([
      tx`delete from public.idempotency_keys where expires_at <= ${now}`,
      tx`delete from public.rate_limit_buckets where window_start < ${secondsBefore(now, 86_400)}`,
      tx`delete from public.webhook_events
          where received_at < ${secondsBefore(now, WEBHOOK_LEDGER_DAYS * 86_400)}`,
    ])
  );
}
