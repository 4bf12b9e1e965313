/**
 * `POST reconcile` (service only, run on a schedule): heals what lost webhooks left behind.
 * Sessions never live after 10 minutes end as `abandoned`; sessions whose room no longer
 * exists in LiveKit end; recordings stuck in pending, recording or processing are refreshed
 * from LiveKit's egress list; rooms of ended sessions that still exist are deleted; and
 * recording retention is applied (uploads not completed within a day are removed, object and
 * row). Each session is healed in its own transaction under its row lock, the same lock the
 * webhook takes, so the two never fight.
 */
import { z } from "zod";
import { type TokenVerifier, withService } from "../../../shared/auth.ts";
import { readJson } from "../../../shared/body.ts";
import type { Clock } from "../../../shared/clock.ts";
import type { CorsOptions } from "../../../shared/cors.ts";
import type { Database } from "../../../shared/db.ts";
import { applyEgressReport, type EgressJson, readEgress } from "../../../shared/egress.ts";
import { createFunction, json } from "../../../shared/http.ts";
import {
  deleteSessionRoom,
  listRoomEgress,
  listRoomNames,
  type LiveKitSettings,
} from "../../../shared/livekit.ts";
import { describeError, type Logger, type LogSink } from "../../../shared/log.ts";
import { endSession, lockSession } from "../../../shared/session_state.ts";

/** A session never live after this long is abandoned (API.md). */
export const ABANDON_AFTER_SECONDS = 10 * 60;
/** Rooms and egress younger than this may not show in LiveKit's lists yet. */
const SETTLE_SECONDS = 60;
/** LiveKit retries a webhook for minutes, so a month of event ids is ample to spot duplicates. */
const WEBHOOK_LEDGER_DAYS = 30;
/** A recording not updated by webhooks for this long is refreshed from ListEgress. */
const STUCK_AFTER_SECONDS = 5 * 60;

/** What retention did (`applyRecordingRetention` in shared/recording_retention.ts). */
export interface RetentionResult {
  recordingsExpired: number;
  uploadsRemoved: number;
}

/** Options of {@linkcode createReconcileHandler}. */
export interface ReconcileOptions {
  db: Database;
  verifier: TokenVerifier;
  livekit: LiveKitSettings;
  /**
   * Applies recording retention (expired recordings, abandoned uploads). Both kinds of removal
   * are reported as `recordingsExpired`: an upload not completed within a day has expired too.
   */
  retention?: (now: Date) => Promise<RetentionResult>;
  bucket?: string;
  cors: CorsOptions;
  clock: Clock;
  logSink?: LogSink;
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

/** Builds the `reconcile` function. */
export function createReconcileHandler(options: ReconcileOptions) {
  const { db, clock, livekit } = options;

  async function abandonStale(now: Date): Promise<number> {
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
        return await endSession(tx, session.id, "abandoned", now, now);
      });
      if (ended) abandoned++;
    }
    return abandoned;
  }

  async function endRoomless(now: Date, rooms: Set<string>) {
    const active = await db.asService((tx) =>
      tx<Candidate[]>`
        select id, room_name, status, created_at from public.stream_sessions
         where status in ('starting', 'live') and created_at < ${
        secondsBefore(now, SETTLE_SECONDS)
      }`
    );
    let ended = 0;
    let abandoned = 0;
    for (
      const candidate of active.filter((session) => !rooms.has(session.room_name))
    ) {
      const reason = await db.asService(async (tx) => {
        const session = await lockSession(tx, candidate.room_name);
        if (!session || session.status === "ended") return undefined;
        const why = session.status === "live" ? "room_finished" : "abandoned";
        await endSession(tx, session.id, why, now, now);
        return why;
      });
      if (reason === "room_finished") ended++;
      if (reason === "abandoned") abandoned++;
    }
    return { ended, abandoned };
  }

  async function refreshStuckRecordings(now: Date): Promise<number> {
    const stuck = await db.asService((tx) =>
      tx<{ room_name: string }[]>`
        select distinct s.room_name from public.recordings r
          join public.stream_sessions s on s.id = r.session_id
         where r.source = 'egress' and r.status in ('pending', 'recording', 'processing')
           and r.updated_at < ${secondsBefore(now, STUCK_AFTER_SECONDS)}`
    );
    let updated = 0;
    for (const { room_name } of stuck) {
      const egresses = await listRoomEgress(livekit, room_name);
      updated += await db.asService(async (tx) => {
        const session = await lockSession(tx, room_name);
        if (!session) return 0;
        let changed = 0;
        for (const info of egresses) {
          const report = readEgress(info as EgressJson, {
            bucket: options.bucket,
          });
          if (
            (await applyEgressReport(tx, session, report, now)) !== "unchanged"
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
        return changed + lost.count;
      });
    }
    return updated;
  }

  /** Keeps the bookkeeping tables small: expired idempotency keys, spent rate-limit windows. */
  async function purgeExpired(now: Date): Promise<void> {
    await db.asService((tx) =>
      Promise.all([
        tx`delete from public.idempotency_keys where expires_at <= ${now}`,
        tx`delete from public.rate_limit_buckets where window_start < ${
          secondsBefore(now, 86_400)
        }`,
        tx`delete from public.webhook_events
            where received_at < ${secondsBefore(now, WEBHOOK_LEDGER_DAYS * 86_400)}`,
      ])
    );
  }

  async function deleteEndedRooms(rooms: Set<string>, log: Logger) {
    if (rooms.size === 0) return;
    const ended = await db.asService((tx) =>
      tx<{ id: string }[]>`
        select id from public.stream_sessions
         where status = 'ended' and room_name = any(${[...rooms]})`
    );
    for (const { id } of ended) {
      try {
        await deleteSessionRoom(livekit, id);
      } catch (error) {
        log.warn(
          "room not deleted; the next run retries",
          describeError(error),
        );
      }
    }
  }

  return createFunction({
    name: "reconcile",
    cors: options.cors,
    logSink: options.logSink,
  }, {
    POST: withService(
      { verifier: options.verifier },
      async (request, context) => {
        await readJson(request, z.strictObject({}));
        const now = clock.now();
        const sessionsAbandoned = await abandonStale(now);
        const retention = options.retention
          ? await options.retention(now)
          : { recordingsExpired: 0, uploadsRemoved: 0 };
        const rooms = await listRoomNames(livekit);
        const roomless = await endRoomless(now, rooms);
        const recordingsUpdated = await refreshStuckRecordings(now);
        await deleteEndedRooms(rooms, context.log);
        await purgeExpired(now);
        const result = {
          sessionsEnded: roomless.ended,
          sessionsAbandoned: sessionsAbandoned + roomless.abandoned,
          recordingsUpdated,
          recordingsExpired: retention.recordingsExpired + retention.uploadsRemoved,
        };
        context.annotate(result);
        return json(result);
      },
    ),
  });
}
